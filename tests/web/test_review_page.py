"""The responsible-reporting review over HTTP and in the browser: advice with highlights,
nothing stored, accountability reporting left alone."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ARTIFACTS
from .test_e2e import login

pytestmark = pytest.mark.slow

DRAFT = (
    "Siege at the mall: gunman named\n\n"
    "Snipers are positioned on the roof of the east wing as the siege continues, and hostages "
    "are hiding in the cinema, officers said. At least 40 people were killed."
)
ACCOUNTABILITY = (
    "The inquiry found that police waited 70 minutes before entering the building, according "
    "to the interior ministry's own timeline. Families dispute the official figure of 12 dead."
)


def test_review_route_and_page(stack, browser):
    headers = {"Authorization": f"Bearer {stack.tokens['reviewer']}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=60) as client:
        report = client.post("/v1/review", json={"text": DRAFT, "language": "en"})
        assert report.status_code == 200, report.text
        body = report.json()
        rules = {f["rule_id"] for f in body["findings"]}
        assert "ongoing_operation" in rules
        assert "advice" in body["disclaimer"].lower()
        calm = client.post("/v1/review", json={"text": ACCOUNTABILITY}).json()
        assert [f for f in calm["findings"] if f["severity"] in ("caution", "serious")] == []
        assert client.post("/v1/review", json={"text": ""}).status_code == 422
        no_role = {"Authorization": f"Bearer {stack.tokens['partner']}"}
        assert client.post("/v1/review", json={"text": DRAFT}, headers=no_role).status_code == 403

    page = browser.new_page()
    login(page, stack, "alice")
    page.goto(f"{stack.url}/ui/review")
    assert "not a ruling" in page.inner_text(".advice-note")
    page.fill("textarea[name=draft]", DRAFT)
    page.click("form[action='/ui/review'] button[type=submit]")
    page.wait_for_selector("#highlighted mark")
    marked = page.locator("#highlighted mark[data-rule='ongoing_operation']")
    assert marked.count() >= 1 and "Snipers" in page.inner_text("#highlighted")
    assert page.locator("#findings li").count() == len(body["findings"])
    page.screenshot(path=ARTIFACTS / "review-page.png", full_page=True)
