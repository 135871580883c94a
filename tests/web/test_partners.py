"""Per-partner sharing status in the API and the UI."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ARTIFACTS
from .test_e2e import login

pytestmark = pytest.mark.slow


def test_partner_status_route_and_page(stack, browser):
    from countersignal.db import make_engine, session_factory
    from countersignal.exchange.policy import create_partner

    engine = make_engine(stack.database_url)
    with session_factory(engine).begin() as session:
        partner = create_partner(
            session,
            organisation_id=stack.org_id,
            partner_organisation_id="org_partner_fr",
            name="Plateforme FR",
        )
        partner_id = partner.id
    engine.dispose()

    headers = {"Authorization": f"Bearer {stack.tokens['curator']}"}
    rows = httpx.get(f"{stack.url}/v1/exchange/partners", headers=headers).json()
    assert [(r["partner_id"], r["name"]) for r in rows] == [(partner_id, "Plateforme FR")]
    auditor = {"Authorization": f"Bearer {stack.tokens['auditor']}"}
    assert len(httpx.get(f"{stack.url}/v1/exchange/partners", headers=auditor).json()) == 1
    assert httpx.get(f"{stack.url}/v1/exchange/partners").status_code == 401

    page = browser.new_page()
    login(page, stack, "alice")
    page.goto(f"{stack.url}/ui/partners")
    assert "Plateforme FR" in page.inner_text(f"tr[data-partner='{partner_id}']")
    page.screenshot(path=ARTIFACTS / "partners.png", full_page=True)
