"""Everything a user or uploader controls is escaped on every page it reaches: the review
draft (shown highlighted through ``|safe``), flash messages, the login ``next`` value, ids in
error pages. Checked by parsing the HTML: no injected element or event handler survives."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

PAYLOAD = ('"><script>alert(1)</script><img src=x onerror=alert(2)>'
           "<svg onload=alert(3)><a href='javascript:alert(4)'>x</a>'\"")

NO_SLASH = '"><img src=x onerror=alert(5)><b onmouseover=alert(6)>x'


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def assert_inert(page: str) -> None:
    parser = Elements()
    parser.feed(page)
    for tag, attrs in parser.found:
        assert tag not in ("svg", "img") or "onerror" not in attrs, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/ui/static/"), attrs  # ours only
        for value in attrs.values():
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, attrs)


def test_user_controlled_text_is_escaped_everywhere(stack) -> None:
    ui = stack.login()
    review = ui.client.post("/ui/review", data={
        "draft": f"The attacker, who killed three people, wrote {PAYLOAD} in a manifesto.",
        "csrf_token": ui.csrf_token})
    assert review.status_code == 200 and "alert(1)" in review.text  # shown, as text
    assert_inert(review.text)
    pages = [
        ui.client.get(f"/ui/?flash={quote(PAYLOAD)}&kind={quote(PAYLOAD)}"),
        ui.client.get(f"/ui/cases/{quote(PAYLOAD, safe='')}"),
        ui.client.get(f"/ui/cases/{quote(NO_SLASH, safe='')}"),  # the HTML error page
        ui.client.get(f"/ui/login?next={quote('/ui/' + PAYLOAD)}"),
        ui.client.get(f"/ui/reports?start={quote(PAYLOAD)}"),
    ]
    assert pages[2].headers["content-type"].startswith("text/html")
    for page in pages:
        assert page.status_code in (200, 404), page.status_code
        if page.headers["content-type"].startswith("text/html"):
            assert_inert(page.text)
        else:  # e.g. a path that matches no route: a JSON problem, never rendered as HTML
            assert page.headers["content-type"] == "application/problem+json"
            assert page.headers["x-content-type-options"] == "nosniff"
    ui.client.close()
