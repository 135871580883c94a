"""No route shows or changes one organisation's data for another.

Organisation A fills a bank; then organisation B — with every role it can hold — calls every
GET route in the OpenAPI document (so routers added later are covered too), with A's ids in
every path parameter, and every write route on A's ids. B must get 404/403 or a response that
mentions none of A's ids, signal values or audit events.
"""

from __future__ import annotations

import re

import pytest

from api.helpers import unique

ROLES = ("admin", "curator", "reviewer", "auditor", "platform-client", "partner")
SECRET_PDQ = "5a" * 32


@pytest.fixture(scope="module")
def a_data(server):
    with server.client("a", "curator") as a:
        bank = a.post("/v1/banks", json={"name": unique("private")}).json()
        item = a.post(f"/v1/banks/{bank['id']}/items", json={
            "signals": [{"type": "pdq", "value": SECRET_PDQ}],
            "external_id": "a-only-external", "source": "a-only-source",
        }).json()
    with server.client("a", "auditor") as auditor:
        events = auditor.get("/v1/audit").json()["events"]
    assert events, "A's changes must be in A's audit log"
    return {"bank": bank["id"], "bank_name": bank["name"], "item": item["id"],
            "signal": str(item["signals"][0]["id"]), "events": [e["id"] for e in events]}


def _fill(path: str, ids: dict) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        for key in ("bank", "item", "signal"):
            if key in name:
                return ids[key]
        return ids["bank"]

    return re.sub(r"\{([^}]+)\}", value, path)


def _secrets(ids: dict) -> list[str]:
    return [ids["bank"], ids["bank_name"], ids["item"], SECRET_PDQ, "a-only-external",
            "a-only-source", *ids["events"]]


def test_other_organisation_sees_nothing(server, a_data):
    with server.client() as anonymous:
        paths = anonymous.get("/openapi.json").json()["paths"]
    leaks = []
    for role in ROLES:
        with server.client("b", role) as b:
            for path, operations in paths.items():
                if "get" not in operations or path in ("/openapi.json", "/metrics"):
                    continue
                url = _fill(path, a_data)
                response = b.get(url)
                if "{" in path:
                    assert response.status_code in (403, 404), (role, url, response.text)
                for secret in _secrets(a_data):
                    # a 404 may echo the id the caller sent; that reveals nothing
                    if secret in response.text and secret not in url:
                        leaks.append((role, url, secret))
    assert leaks == []


def test_other_organisation_cannot_change_or_match(server, a_data):
    with server.client("b", "curator") as b:
        bank, item = a_data["bank"], a_data["item"]
        assert b.patch(f"/v1/banks/{bank}", json={"description": "x"}).status_code == 404
        assert b.delete(f"/v1/banks/{bank}/items/{item}").status_code == 404
        assert b.post(f"/v1/banks/{bank}/items/{item}/revoke").status_code == 404
        assert b.post(f"/v1/banks/{bank}/signals", json={
            "signals": [{"type": "md5", "value": "0" * 32}]}).status_code == 404
        assert b.delete(f"/v1/banks/{bank}").status_code == 404
        # same name is free in B: names are per organisation
        assert b.post("/v1/banks", json={"name": a_data["bank_name"]}).status_code == 201
        matched = b.post("/v1/match/signals",
                         json={"signals": [{"type": "pdq", "value": SECRET_PDQ}]})
        assert matched.status_code == 200 and matched.json()["matches"] == []
        assert b.post("/v1/match/signals", json={
            "signals": [{"type": "pdq", "value": SECRET_PDQ}], "banks": [bank]}).status_code == 404
    with server.client("a", "curator") as a:
        assert a.get(f"/v1/banks/{a_data['bank']}/items/{a_data['item']}").status_code == 200
