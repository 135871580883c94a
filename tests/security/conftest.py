"""One real server for the security tests (``countersignal serve`` over SQLite, debug logging,
Secure cookies), an organisation with a token per role and a reviewer who logs in to the UI,
and the route table of the same application for tests that must cover every route."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.conftest import Org, make_org, start_server, stop_server

PASSWORD = "Security-" + secrets.token_urlsafe(12)  # found nowhere but here if never logged


@dataclass
class Stack:
    url: str
    database_url: str
    log: Path
    org: Org
    email: str
    password: str
    pid: int

    def api(self, role: str | None = "admin", **kwargs) -> httpx.Client:
        headers = self.org.headers(role) if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def login(self) -> UiSession:
        """Log in through the form; Secure cookies are not sent back over plain http by
        httpx's cookie jar, so the session travels as an explicit Cookie header."""
        with httpx.Client(base_url=self.url, timeout=30) as anon:
            reply = post_login(anon, {"email": self.email, "password": self.password})
        assert reply.status_code == 303, reply.text
        cookie = next(v for k, v in reply.headers.multi_items()
                      if k == "set-cookie" and v.startswith("cs_session="))
        value = re.match(r"cs_session=([^;]+)", cookie).group(1)
        client = httpx.Client(base_url=self.url, timeout=30,
                              headers={"Cookie": f"cs_session={value}"})
        page = client.get("/ui/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return UiSession(client, value, token, cookie)


@dataclass
class LoginForm:
    """What ``GET /ui/login`` hands a browser: the nonce cookie and the form's token."""

    cookie: str  # the cs_login nonce
    token: str  # the hidden csrf_token field
    set_cookie: str


def login_form(client: httpx.Client) -> LoginForm:
    page = client.get("/ui/login")
    assert page.status_code == 200, page.text
    set_cookie = next(v for k, v in page.headers.multi_items()
                      if k == "set-cookie" and v.startswith("cs_login="))
    nonce = re.match(r"cs_login=([^;]+)", set_cookie).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return LoginForm(nonce, token, set_cookie)


def post_login(client: httpx.Client, data: dict, form: LoginForm | None = None,
               **kwargs) -> httpx.Response:
    """POST the login form as a browser does: first GET it (its cookie and token), unless
    ``form`` is given. The cookie travels as an explicit header (it is Secure, and this is
    plain http)."""
    form = form or login_form(client)
    cookies = [c for c in (client.headers.get("Cookie"), f"cs_login={form.cookie}") if c]
    return client.post("/ui/login", data={"csrf_token": form.token, **data},
                       headers={"Cookie": "; ".join(cookies)}, **kwargs)


@dataclass
class UiSession:
    client: httpx.Client
    cookie: str
    csrf_token: str
    set_cookie: str


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    from countersignal.auth import Principal, create_user
    from countersignal.db import make_engine, session_factory

    tmp = tmp_path_factory.mktemp("security")
    env = {"COUNTERSIGNAL_WEB_SECURE_COOKIES": "true", "COUNTERSIGNAL_API_AUTH_CACHE_S": "0"}
    process, url, log, _demo = start_server(tmp, env, ["--log-level", "debug"])
    try:
        database_url = f"sqlite:///{(tmp / 'home' / 'countersignal.db').resolve()}"
        org = make_org(database_url, "Security Org")
        email = "reviewer@security.test"
        engine = make_engine(database_url)
        with session_factory(engine).begin() as session:
            create_user(session, by=Principal.system("tests"), organisation_id=org.id,
                        email=email, display_name="Rita Reviewer",
                        roles=["reviewer", "admin"], password=PASSWORD)
        engine.dispose()
        yield Stack(url, database_url, log, org, email, PASSWORD, process.pid)
    finally:
        stop_server(process)


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    required_form_fields: tuple[str, ...]

    def sample_path(self) -> str:
        """The path with every parameter filled by an id that exists nowhere."""
        return re.sub(r"\{[^}]+\}", "nonexistent1", self.path)


@pytest.fixture(scope="session")
def routes(tmp_path_factory) -> list[RouteInfo]:
    """Every (method, path) the application serves, read from the app itself (UI routes are
    not in the OpenAPI document), with the form fields a request needs to reach its handler."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from countersignal.api.app import create_app
    from countersignal.runtime import Runtime
    from countersignal.settings import Settings

    home = tmp_path_factory.mktemp("routes-home")
    app = create_app(Runtime(Settings(home=home), auto_migrate=False))
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        fields: tuple[str, ...] = ()
        if isinstance(route, APIRoute):
            body = route.dependant.body_params
            fields = tuple(f.alias for f in body if f.field_info.is_required())
        for method in sorted(set(context.methods or ()) - {"HEAD"}):
            found.append(RouteInfo(method, context.path, fields))
    assert len(found) > 60  # the whole application, not one router
    return found
