"""Authentication on every route: each route the application serves, called without
credentials, answers 401 (API, TAXII, metrics) or a redirect to the login page (UI). The only
public routes are the health checks, the login page, the UI's static files and the API
description; a new route that forgets its dependency fails here."""

from __future__ import annotations

import base64

import httpx

PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"),  # load balancers
    ("GET", "/ui/login"), ("POST", "/ui/login"), ("GET", "/ui/static/{name}"),
    # The API description (no data; the same as docs/api.md in the repository).
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}


def _call(client: httpx.Client, route, **kwargs) -> httpx.Response:
    return client.request(route.method, route.sample_path(), **kwargs)


def test_every_route_but_the_public_ones_needs_credentials(stack, routes) -> None:
    seen_public = set()
    with stack.api(role=None, follow_redirects=False) as anonymous:
        for route in routes:
            key = (route.method, route.path)
            if route.path.startswith("/ui/") and route.method == "POST":
                form = dict.fromkeys(route.required_form_fields, "x")
                reply = _call(anonymous, route, data=form)
            else:
                reply = _call(anonymous, route, json={})
            if key in PUBLIC:
                seen_public.add(key)
                continue
            if route.path.startswith("/ui/"):
                assert reply.status_code == 303, (key, reply.status_code)
                assert reply.headers["location"].startswith("/ui/login"), key
            else:
                assert reply.status_code == 401, (key, reply.status_code, reply.text[:200])
                assert "www-authenticate" in reply.headers or route.path.startswith("/v1/") \
                    or route.path == "/metrics", key
    assert seen_public == PUBLIC, "a public route disappeared: update PUBLIC"


def test_wrong_credentials_are_refused_everywhere(stack, routes) -> None:
    """Invalid, malformed, wrong-scheme and empty credentials: 401, never a 2xx or a 500."""
    bad = ["Bearer cs_notatoken", "Bearer " + "A" * 5000, "Bearer", "Basic " +
           base64.b64encode(b"x:cs_notatoken").decode(), "Basic %%%", "Digest x",
           "Bearer cs_\x7f", f"bearer {stack.org.tokens['admin']}x"]
    api_routes = [r for r in routes if (r.method, r.path) not in PUBLIC
                  and not r.path.startswith("/ui/")]
    with stack.api(role=None) as client:
        for header in bad:
            for route in api_routes[:: max(1, len(api_routes) // 15)]:
                try:
                    reply = _call(client, route, headers={"Authorization": header}, json={})
                except httpx.LocalProtocolError:  # httpx refuses to send it: fine
                    continue
                # A control character in a header is refused by the HTTP parser itself (400).
                expected = {400, 401} if "\x7f" in header else {401}
                assert reply.status_code in expected, (header[:30], route.path, reply.status_code)


def test_a_valid_token_passes_the_same_routes(stack, routes) -> None:
    """The 401s above come from authentication, not from the sample path: the same requests
    with the admin token are answered by the routes themselves (never 401, never a 500)."""
    with stack.api("admin") as admin:
        for route in routes:
            if route.path.startswith("/ui/") or (route.method, route.path) in PUBLIC:
                continue
            reply = _call(admin, route, json={})
            assert reply.status_code not in (401, 500), (route.method, route.path, reply.text)


def test_ui_session_cookie_is_the_only_ui_credential(stack) -> None:
    """An API token does not open the UI (it would bypass the CSRF token), and a session
    cookie does not open the API."""
    session = stack.login()
    with stack.api("admin", follow_redirects=False) as api:
        assert api.get("/ui/").status_code == 303
    with httpx.Client(base_url=stack.url, headers={"Cookie": f"cs_session={session.cookie}"},
                      timeout=30) as browser:
        assert browser.get("/v1/me").status_code == 401
    session.client.close()
