"""Issue 4's end-to-end path through a real server, worker, webhook receiver and Chromium:

upload → bank match → case → reveal → remove with ground → webhook → statement of reasons →
appeal → a second reviewer reinstates → reinstate webhook → false-positive opinion → the
transparency report shows one removal, one complaint, one restoration. And removal orders:
one answered inside its hour, one late and shown as late.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from api.helpers import encode, image
from loopback import QuietHandler, serve_http

from .conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def login(page, stack, who: str) -> None:
    page.goto(f"{stack.url}/ui/")
    assert "/ui/login" in page.url  # not logged in: sent to the login page
    page.fill("input[name=email]", stack.users[who])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/ui/")


def api(stack, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.url,
        headers={"Authorization": f"Bearer {stack.tokens[role]}"},
        timeout=30,
    )


def test_upload_match_remove_appeal_reinstate(stack, receiver, browser):
    from countersignal.actions.webhooks import verify_signature
    from countersignal.banks.models import Opinion
    from countersignal.db import make_engine, session_factory

    secret = re.search(
        r"secret \(shown once\): (\S+)",
        stack.cli("webhooks", "add", receiver.url, "--allow-private"),
    ).group(1)

    known = image(seed=404)
    with api(stack, "curator") as curator:
        bank = curator.post("/v1/banks", json={"name": "crisis-content", "tlp": "AMBER"})
        assert bank.status_code == 201, bank.text
        hashed = curator.post(
            "/v1/hash", files={"file": ("known.png", encode(known), "image/png")}
        ).json()
        pdq = next(s for s in hashed["signals"] if s["type"] == "pdq")
        item = curator.post(
            f"/v1/banks/{bank.json()['id']}/items",
            json={
                "signals": [{"type": "pdq", "value": pdq["value"]}],
                "labels": [
                    {"kind": "tier", "value": "crisis"},
                    {"kind": "behaviour", "value": "perpetrator-produced"},
                ],
                "source": "partner hash list",
            },
        )
        assert item.status_code == 201, item.text

    # The platform uploads a re-encoded, resized copy.
    copy = encode(known.resize((200, 200)), "JPEG", quality=70)
    with api(stack, "platform-client") as platform:
        submitted = platform.post(
            "/v1/submissions",
            files={"file": ("upload.jpg", copy, "image/jpeg")},
            data={"content_id": "post-123", "uploader_id": "user-9", "territory": "DE"},
        )
    assert submitted.status_code == 201, submitted.text
    result = submitted.json()
    assert result["outcome"] == "review" and result["matches"], result
    case_id = result["case"]["id"]

    page = browser.new_page()
    login(page, stack, "alice")
    assert page.locator(f"tr[data-case='{case_id}']").count() == 1
    page.screenshot(path=ARTIFACTS / "e2e-1-queue.png", full_page=True)
    page.click(f"a[href='/ui/cases/{case_id}']")
    page.wait_for_selector("#media")
    assert "revealed" not in (page.get_attribute("#media", "class") or "")
    assert "/preview" in page.get_attribute("#content", "src")
    assert page.locator(".match .distance").first.inner_text().isdigit()
    assert "crisis" in page.locator(".match").first.inner_text()
    page.screenshot(path=ARTIFACTS / "e2e-2-case-blurred.png", full_page=True)

    with page.expect_response(lambda r: f"/ui/cases/{case_id}/content" in r.url) as shown:
        page.keyboard.press("v")  # reveal: only now do the real pixels load
    assert shown.value.status == 200
    assert shown.value.headers["content-type"].startswith("image/")
    assert "revealed" in page.get_attribute("#media", "class")
    page.keyboard.press("r")  # remove
    assert page.is_checked("input[name=action][value=remove]")
    page.select_option("select[name=ground_type]", "legal")
    page.fill("input[name=ground]", "Regulation (EU) 2021/784, Art. 2(7)")
    page.fill(
        "textarea[name=explanation]",
        "Re-upload of an attacker's livestream frame held in our crisis bank.",
    )
    page.screenshot(path=ARTIFACTS / "e2e-3-case-revealed.png", full_page=True)
    page.click("form.decide button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/\?flash=.*"))
    assert "case decided" in page.inner_text(".flash")

    removal = wait_for(lambda: receiver.events("decision.remove"), what="the removal webhook")[0]
    verify_signature(secret, removal.signature, removal.body)  # raises when forged
    assert removal.json["data"]["case_id"] == case_id

    with api(stack, "admin") as admin:
        statements = admin.get("/v1/statements").json()
    docs = [doc for batch in statements["batches"] for doc in batch["statements"]]
    assert len(docs) == 1
    sor = docs[0]
    assert sor["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert sor["automated_detection"] == "Yes" and sor["automated_decision"].endswith(
        "NOT_AUTOMATED"
    )
    decision_id = next(
        d["id"]
        for d in httpx.get(
            f"{stack.url}/v1/cases/{case_id}",
            headers={"Authorization": f"Bearer {stack.tokens['reviewer']}"},
        ).json()["decisions"]
    )

    with api(stack, "platform-client") as platform:
        appeal = platform.post(
            f"/v1/decisions/{decision_id}/appeals",
            json={
                "statement": "This is a news report about the attack, not propaganda.",
                "appellant_ref": "user-9",
            },
        )
    assert appeal.status_code == 201, appeal.text

    # The reviewer who removed it may not decide the appeal.
    page.goto(f"{stack.url}/ui/cases/{case_id}")
    page.check("form.appeal input[value=reversed]")
    page.fill("form.appeal textarea[name=explanation]", "Trying to decide my own appeal.")
    page.click("form.appeal button[type=submit]")
    assert "took no part in the original decision" in page.inner_text(".flash.error")

    second = browser.new_page()
    login(second, stack, "bob")
    second.goto(f"{stack.url}/ui/cases/{case_id}")
    second.check("form.appeal input[value=reversed]")
    second.fill(
        "form.appeal textarea[name=explanation]",
        "Journalistic use with context; restore the post.",
    )
    second.screenshot(path=ARTIFACTS / "e2e-4-appeal.png", full_page=True)
    second.click("form.appeal button[type=submit]")
    assert "appeal reversed" in second.inner_text(".flash")

    reinstate = wait_for(
        lambda: receiver.events("decision.reinstate"), what="the reinstate webhook"
    )[0]
    verify_signature(secret, reinstate.signature, reinstate.body)
    assert reinstate.json["data"]["case_id"] == case_id

    engine = make_engine(stack.database_url)
    with session_factory(engine)() as session:
        opinions = session.scalars(select(Opinion)).all()
    engine.dispose()
    assert [(o.organisation_id, o.opinion) for o in opinions] == [(stack.org_id, "false_positive")]

    now = datetime.now(UTC)
    span = {
        "start": (now - timedelta(days=1)).isoformat(),
        "end": (now + timedelta(days=1)).isoformat(),
    }
    with api(stack, "admin") as admin:
        figures = admin.get("/v1/reports/transparency", params=span).json()["tco"]
    assert figures["items"]["removed"] == 1
    assert figures["complaints"]["received"] == 1
    assert figures["restorations"]["reinstated"] == 1
    second.goto(f"{stack.url}/ui/reports")
    second.screenshot(path=ARTIFACTS / "e2e-5-report.png", full_page=True)


def test_removal_orders_in_time_and_late(stack, browser):
    now = datetime.now(UTC)
    with api(stack, "reviewer") as intake:  # the platform's trust-and-safety intake
        made = []
        for received, ref in ((now, "in-time"), (now - timedelta(hours=2), "late")):
            response = intake.post(
                "/v1/removal-orders",
                json={
                    "authority": "Bundeskriminalamt",
                    "authority_country": "DE",
                    "authority_reference": f"BKA-{ref}",
                    "legal_basis": "Regulation (EU) 2021/784, Art. 3",
                    "content_reference": f"https://platform.test/p/{ref}",
                    "received_at": received.isoformat(),
                },
            )
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])

    page = browser.new_page()
    login(page, stack, "alice")
    page.goto(f"{stack.url}/ui/orders")
    in_time, late = made
    assert page.locator(f"tr[data-order='{late}'] .sla.overdue").count() == 1
    assert page.locator(f"tr[data-order='{in_time}'] .sla:not(.overdue)").count() == 1
    page.screenshot(path=ARTIFACTS / "e2e-6-orders-open.png", full_page=True)
    for order_id in made:
        page.click(f"tr[data-order='{order_id}'] button[type=submit]")
        assert "recorded" in page.inner_text(".flash")
    assert page.inner_text(f"tr[data-order='{in_time}'] .status") == "done"
    assert "answered late" in page.inner_text(f"tr[data-order='{late}']")
    assert "answered late" not in page.inner_text(f"tr[data-order='{in_time}']")
    page.screenshot(path=ARTIFACTS / "e2e-7-orders-answered.png", full_page=True)


def login_post(client: httpx.Client, data: dict) -> httpx.Response:
    """GET the login form (its nonce cookie and token), then POST it, as a browser does. The
    cookie is Secure, which httpx's jar keeps from plain http, so it is passed by hand."""
    form = client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post("/ui/login", data={**data, "csrf_token": token},
                       cookies={"cs_login": form.cookies["cs_login"]})


@pytest.mark.filterwarnings("ignore:Setting per-request cookies:DeprecationWarning")
def test_login_csrf_and_headers(stack, browser):
    with httpx.Client(base_url=stack.url, follow_redirects=False) as client:
        assert client.get("/ui/").status_code == 303
        bad = login_post(client, {"email": stack.users["alice"], "password": "nope"})
        assert bad.status_code == 401 and "cs_session" not in bad.headers.get("set-cookie", "")
        no_token = client.post("/ui/login", data={"email": stack.users["alice"],
                                                   "password": PASSWORD})
        assert no_token.status_code == 403 and "cs_session" not in no_token.headers.get(
            "set-cookie", "")
        good = login_post(
            client,
            {
                "email": stack.users["alice"],
                "password": PASSWORD,
                "next": "https://evil.test/",
            },
        )
        assert good.status_code == 303 and good.headers["location"] == "/ui/"
        cookie = next(v for k, v in good.headers.multi_items()
                      if k == "set-cookie" and v.startswith("cs_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
        page = client.get("/ui/", cookies={"cs_session": good.cookies["cs_session"]})
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        # A form post without the CSRF token is refused and changes nothing.
        forged = client.post("/ui/logout", cookies={"cs_session": good.cookies["cs_session"]})
        assert forged.status_code == 403
        still = client.get("/ui/", cookies={"cs_session": good.cookies["cs_session"]})
        assert still.status_code == 200


def test_cross_site_login_post_logs_nobody_in(stack, browser):
    """Login CSRF in a real browser: a page on another site (``localhost`` against the server's
    ``127.0.0.1``) auto-submits the attacker's credentials to /ui/login. The browser had
    opened the login form before, so it holds a login cookie; SameSite=Strict keeps it home and
    the attacker cannot know the form's token: 403, and the browser has no session."""
    attack = f"""<!doctype html><form id="f" method="post" action="{stack.url}/ui/login">
    <input name="email" value="{stack.users['bob']}"><input name="password" value="{PASSWORD}">
    <input name="csrf_token" value="guessed"></form>
    <script>document.getElementById("f").submit()</script>""".encode()

    class Attacker(QuietHandler):
        def do_GET(self):
            self.reply(200, attack, "text/html")

    with serve_http(Attacker) as server:
        page = browser.new_page()
        try:
            page.goto(f"{stack.url}/ui/login")
            assert any(c["name"] == "cs_login" for c in page.context.cookies())
            with page.expect_navigation(url=f"{stack.url}/ui/login"):
                page.goto(f"http://localhost:{server.server_port}/attack")
            assert "security token" in page.inner_text("body")
            assert not any(c["name"] == "cs_session" for c in page.context.cookies())
            assert "/ui/login" in page.goto(f"{stack.url}/ui/").url  # still logged out
            # The victim's own login from the refusal page works (it carries a fresh token).
            login(page, stack, "alice")
            assert any(c["name"] == "cs_session" for c in page.context.cookies())
        finally:
            page.close()
