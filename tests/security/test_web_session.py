"""The review UI's session cookie and CSRF protection, across every state-changing form
route the application has (enumerated, so a new form route is covered without editing this)."""

from __future__ import annotations

import re

import httpx


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
        login = client.post("/ui/login", data={"email": stack.email, "password": stack.password})
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
