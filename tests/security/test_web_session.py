"""The review UI's session cookie and CSRF protection, across every state-changing form
route the application has (enumerated, so a new form route is covered without editing this)."""

from __future__ import annotations

import re

import httpx

from .conftest import login_form, post_login


def _form_routes(routes) -> list:
    return [r for r in routes if r.method == "POST" and r.path.startswith("/ui/")
            and r.path != "/ui/login"]


def test_session_cookie_flags(stack) -> None:
    first, second = stack.login(), stack.login()
    attributes = {part.strip().split("=", 1)[0].lower(): part.strip()
                  for part in first.set_cookie.split(";")[1:]}
    assert "httponly" in attributes and "secure" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/ui"
    assert "domain" not in attributes  # host-only
    assert int(attributes["max-age"].split("=")[1]) <= 12 * 3600
    assert len(first.cookie) >= 40 and first.cookie != second.cookie  # fresh, random
    assert first.csrf_token != second.csrf_token  # per session
    for ui in (first, second):
        ui.client.close()


def test_a_cookie_the_server_did_not_issue_is_no_session(stack) -> None:
    """No session fixation: a value chosen by an attacker is never adopted."""
    with httpx.Client(base_url=stack.url, headers={"Cookie": "cs_session=attacker-chosen"},
                      timeout=30) as client:
        assert client.get("/ui/", follow_redirects=False).status_code == 303
        login = post_login(client, {"email": stack.email, "password": stack.password})
        assert login.status_code == 303
        assert "attacker-chosen" not in login.headers["set-cookie"]


def test_every_form_route_refuses_a_missing_wrong_or_foreign_csrf_token(stack, routes) -> None:
    ui, other = stack.login(), stack.login()
    forms = _form_routes(routes)
    assert {"/ui/logout", "/ui/review", "/ui/cases/{case_id}/decide"} <= {r.path for r in forms}
    for route in forms:
        form = dict.fromkeys(route.required_form_fields, "x")
        if "draft" in form:
            form["draft"] = "A draft that must never be reviewed without a valid token."
        for token in (None, "", "wrong", ui.csrf_token[:-1], other.csrf_token):
            data = form if token is None else {**form, "csrf_token": token}
            reply = ui.client.post(route.sample_path(), data=data, follow_redirects=False)
            assert reply.status_code == 403, (route.path, token, reply.status_code)
            assert "security token" in reply.text
    # Nothing happened: the session survived every forged logout, no review was produced.
    assert ui.client.get("/ui/", follow_redirects=False).status_code == 200
    # The control: with its own token the same requests go through.
    review = ui.client.post("/ui/review", data={"draft": "Police said two people were hurt.",
                                                "csrf_token": ui.csrf_token})
    assert review.status_code == 200 and "security token" not in review.text
    out = ui.client.post("/ui/logout", data={"csrf_token": ui.csrf_token},
                         follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert ui.client.get("/ui/", follow_redirects=False).status_code == 303  # session gone
    other.client.close()
    ui.client.close()


def test_csrf_token_is_not_in_a_url_and_forms_post(stack) -> None:
    ui = stack.login()
    page = ui.client.get("/ui/review")
    assert ui.csrf_token not in str(page.url)
    for form in re.findall(r"<form[^>]*>", page.text):
        assert 'method="post"' in form, form
    ui.client.close()


def _logged_in(reply: httpx.Response) -> bool:
    return "cs_session=" in " ".join(v for k, v in reply.headers.multi_items()
                                     if k == "set-cookie")


def test_login_form_token_cookie_flags(stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        first, second = login_form(client), login_form(client)
    attributes = {part.strip().split("=", 1)[0].lower(): part.strip()
                  for part in first.set_cookie.split(";")[1:]}
    assert "httponly" in attributes and "secure" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/ui/login" and "domain" not in attributes
    assert int(attributes["max-age"].split("=")[1]) <= 2 * 3600
    assert len(first.cookie) >= 40 and first.cookie != second.cookie
    assert first.token != second.token and first.cookie not in first.token


def _web_sessions(stack) -> int:
    from sqlalchemy import func, select

    from countersignal.auth import User
    from countersignal.db import make_engine, session_factory
    from countersignal.web.models import WebSession

    engine = make_engine(stack.database_url)
    try:
        with session_factory(engine)() as session:
            user_id = session.scalar(select(User.id).where(User.email == stack.email))
            return session.scalar(select(func.count()).select_from(WebSession)
                                  .where(WebSession.user_id == user_id))
    finally:
        engine.dispose()


def test_login_without_or_with_a_wrong_token_is_refused_and_logs_nobody_in(stack) -> None:
    """Login CSRF: a cross-site form cannot carry the cookie (SameSite=Strict) nor know the
    token; every forged or damaged pair is refused before the password is checked."""
    credentials = {"email": stack.email, "password": stack.password}
    before = _web_sessions(stack)
    with httpx.Client(base_url=stack.url, timeout=30) as client, \
            httpx.Client(base_url=stack.url, timeout=30) as other:
        form, foreign = login_form(client), login_form(other)
        issued, mac = form.token.split(".", 1)
        forged = [
            ({}, None),                                               # a cross-site post
            ({"csrf_token": form.token}, None),                        # token, no cookie
            ({}, form.cookie),                                         # cookie, no token
            ({"csrf_token": ""}, form.cookie),
            ({"csrf_token": "wrong"}, form.cookie),
            ({"csrf_token": form.token[:-1]}, form.cookie),            # truncated
            ({"csrf_token": f"{int(issued) + 1}.{mac}"}, form.cookie),  # re-dated
            ({"csrf_token": f"1.{mac}"}, form.cookie),
            ({"csrf_token": foreign.token}, form.cookie),              # another browser's
            ({"csrf_token": form.token}, foreign.cookie),
            ({"csrf_token": form.token}, "attacker-chosen"),
            ({"csrf_token": "ü" + form.token}, form.cookie),           # not ASCII
        ]
        for extra, cookie in forged:
            headers = {"Cookie": f"cs_login={cookie}"} if cookie else {}
            reply = client.post("/ui/login", data={**credentials, **extra}, headers=headers,
                                follow_redirects=False)
            assert reply.status_code == 403, (extra, cookie, reply.status_code)
            assert "security token" in reply.text and "Nobody was logged in" in reply.text
            assert not _logged_in(reply), (extra, cookie)
            # The refusal hands out a fresh form, so a real user can log in from it at once.
            assert 'name="csrf_token" value="' in reply.text
        assert _web_sessions(stack) == before  # no session was made for any of them
        # The control: the same credentials with the form's own cookie and token log in.
        good = post_login(client, credentials, form, follow_redirects=False)
        assert good.status_code == 303 and _logged_in(good)
        assert any(v.startswith("cs_login=") and "Max-Age=0" in v
                   for k, v in good.headers.multi_items() if k == "set-cookie")
    assert _web_sessions(stack) == before + 1


def test_login_token_expires_and_is_bound_to_its_nonce() -> None:
    from countersignal.errors import Forbidden
    from countersignal.web.sessions import LOGIN_FORM_TTL, check_login_token, issue_login_token

    key, other_key = b"k" * 32, b"o" * 32
    nonce, token = issue_login_token(key, now=1_000_000)
    check_login_token(key, nonce, token, now=1_000_000 + 60)
    for args in [(other_key, nonce, token, 1_000_060),
                 (key, nonce + "x", token, 1_000_060),
                 (key, nonce, token, 1_000_000 + LOGIN_FORM_TTL.total_seconds() + 1),
                 (key, nonce, token, 1_000_000 - 3600)]:
        try:
            check_login_token(*args[:3], now=args[3])
        except Forbidden:
            continue
        raise AssertionError(f"accepted {args}")
