"""Response headers: a strict Content-Security-Policy and no sniffing on every UI response,
nosniff on every API response, and preserved content served so a browser can never run it."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image

UI_PAGES = ["/ui/login", "/ui/", "/ui/appeals", "/ui/orders", "/ui/webhooks", "/ui/reports",
            "/ui/partners", "/ui/review", "/ui/cases/nonexistent1", "/ui/static/app.css",
            "/ui/static/app.js"]


def _csp(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(headers) -> None:
    csp = _csp(headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline, no eval, no other origin
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert not any("unsafe" in source or source == "*" for sources in csp.values()
                   for source in sources)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "no-store" in headers["cache-control"]


def test_every_ui_page_redirect_and_error_is_strict(stack) -> None:
    ui = stack.login()
    for path in UI_PAGES:
        reply = ui.client.get(path, follow_redirects=False)
        assert reply.status_code in (200, 404), (path, reply.status_code)
        assert_strict(reply.headers)
    for path in ("/ui/static/..%2fpages.py", "/ui/static/%2e%2e/routes.py",
                 "/ui/static/app.css%00.py", "/ui/static/.%2e/templates/base.html"):
        reply = ui.client.get(path, follow_redirects=False)
        assert reply.status_code == 404, path  # static names are an allow-list
        assert "import" not in reply.text
    with stack.api(role=None, follow_redirects=False) as anonymous:
        assert_strict(anonymous.get("/ui/").headers)  # the login redirect
        assert_strict(anonymous.get("/ui/login").headers)
    ui.client.close()


def test_every_api_response_is_nosniff(stack, routes) -> None:
    with stack.api("admin") as admin:
        for route in routes:
            if route.path.startswith("/ui/"):
                continue
            reply = admin.request(route.method, route.sample_path(), json={})
            assert reply.headers.get("x-content-type-options") == "nosniff", route.path


def _case_with_content(stack, content: bytes, declared_type: str, filename: str) -> str:
    """Bank the content's MD5, then submit it as a platform would: the match opens a case
    whose review copy (with the uploader's declared type) is preserved in the vault."""
    md5 = hashlib.md5(content).hexdigest()
    with stack.api("curator") as curator:
        bank = curator.post("/v1/banks", json={"name": f"bank-{md5[:10]}"}).json()["id"]
        item = curator.post(f"/v1/banks/{bank}/items", json={
            "signals": [{"type": "md5", "value": md5}],
            "labels": [{"kind": "tier", "value": "crisis"}]})
        assert item.status_code == 201, item.text
    with stack.api("platform-client") as platform:
        submitted = platform.post("/v1/submissions",
                                  files={"file": (filename, content, declared_type)},
                                  data={"content_id": md5, "uploader_id": "u1"})
    assert submitted.status_code == 201, submitted.text
    return submitted.json()["case"]["id"]


def _png() -> bytes:
    rng = np.random.default_rng(7)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<html><body><script>fetch('/ui/')</script></body></html>"


def test_revealed_content_is_inline_only_for_raster_media(stack) -> None:
    cases = {
        "png": (_case_with_content(stack, _png(), "image/png", "a.png"), "image/png"),
        "svg claiming an image type": (
            _case_with_content(stack, SVG, "image/svg+xml", "a.svg"), None),
        "html": (_case_with_content(stack, HTML, "text/html", "a.html"), None),
        "html claiming to be a png": (
            _case_with_content(stack, HTML + b" ", "image/png; charset=x", "b.png"), "image/png"),
    }
    ui = stack.login()
    for name, (case_id, inline_type) in cases.items():
        reply = ui.client.get(f"/ui/cases/{case_id}/content")
        assert reply.status_code == 200, (name, reply.text[:200])
        assert_strict(reply.headers)
        disposition = reply.headers["content-disposition"]
        if inline_type:
            assert disposition == "inline" and reply.headers["content-type"] == inline_type, name
        else:
            assert disposition.startswith("attachment;"), name
            assert reply.headers["content-type"] == "application/octet-stream", name
        preview = ui.client.get(f"/ui/cases/{case_id}/preview")
        assert_strict(preview.headers)
        assert preview.status_code in (200, 404)
        if preview.status_code == 200:
            assert preview.headers["content-type"] == "image/png"
    ui.client.close()


def test_vault_reads_over_the_api_are_json_not_content(stack) -> None:
    case_id = _case_with_content(stack, HTML + b"  ", "text/html", "v.html")
    with stack.api("reviewer") as reviewer:
        entries = reviewer.get("/v1/vault", params={"case_id": case_id}).json()["entries"]
        assert entries, "the case's review copy is in the vault"
        read = reviewer.post(f"/v1/vault/{entries[0]['id']}/read",
                          json={"reason": "security test: header check"})
        assert read.status_code == 200, read.text
        assert read.headers["content-type"] == "application/json"
        assert read.headers["x-content-type-options"] == "nosniff"
        for entry_id in ("..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", entries[0]["id"] + "/.."):
            reply = reviewer.post(f"/v1/vault/{entry_id}/read", json={"reason": "traversal test"})
            assert reply.status_code in (404, 405), (entry_id, reply.status_code)
