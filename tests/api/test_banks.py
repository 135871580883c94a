"""Banks, items and raw signals over HTTP: CRUD, validation, audit trail, permissions."""

from __future__ import annotations

from api.helpers import unique

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA = "a" * 64


def test_bank_crud_is_audited_with_reason(server, a):
    name = unique("bank")
    created = a.post("/v1/banks", json={"name": name, "tlp": "GREEN"},
                     headers={"X-Audit-Reason": "new partner list"})
    assert created.status_code == 201, created.text
    bank = created.json()
    assert (bank["name"], bank["tlp"], bank["item_count"]) == (name, "GREEN", 0)

    assert a.get(f"/v1/banks/{bank['id']}").json()["id"] == bank["id"]
    assert a.get(f"/v1/banks/{name}").json()["id"] == bank["id"]  # by name too
    assert bank["id"] in [b["id"] for b in a.get("/v1/banks").json()["banks"]]

    patched = a.patch(f"/v1/banks/{bank['id']}", json={"description": "d", "trusted": True})
    assert patched.status_code == 200 and patched.json()["trusted"] is True

    assert a.post("/v1/banks", json={"name": name}).status_code == 409

    deleted = a.delete(f"/v1/banks/{bank['id']}")
    assert deleted.status_code == 200
    assert a.get(f"/v1/banks/{bank['id']}").status_code == 404

    with server.client("a", "auditor") as auditor:
        events = auditor.get("/v1/audit", params={"target_id": bank["id"]}).json()["events"]
    actions = [e["action"] for e in events]
    assert actions == ["bank.delete", "bank.update", "bank.create"]
    create_event = events[-1]
    assert create_event["reason"] == "new partner list"
    assert create_event["actor_kind"] == "token"
    assert create_event["organisation_id"] == server.orgs["a"].id


def test_items_signals_labels_provenance(server, a):
    bank = a.post("/v1/banks", json={"name": unique("items")}).json()
    item = a.post(f"/v1/banks/{bank['id']}/items", json={
        "signals": [{"type": "pdq", "value": PDQ_A.upper()}, {"type": "sha256", "value": SHA}],
        "labels": [{"kind": "tier", "value": "crisis"},
                   {"kind": "designated_entity", "value": "ISIL", "reference": "UN:QDe.115"}],
        "external_id": "ext-1", "source": "partner X", "tlp": "AMBER",
    })
    assert item.status_code == 201, item.text
    body = item.json()
    assert {(s["type"], s["value"]) for s in body["signals"]} == {("pdq", PDQ_A), ("sha256", SHA)}
    assert body["source_organisation_id"] == server.orgs["a"].id
    assert a.get(f"/v1/banks/{bank['id']}/items/{body['id']}").json() == body

    raw = a.post(f"/v1/banks/{bank['id']}/signals", json={
        "signals": [{"type": "md5", "value": "0" * 32, "external_id": "m1"},
                    {"type": "md5", "value": "1" * 32}],
        "labels": [{"kind": "behaviour", "value": "glorification"}], "source": "hash list",
    })
    assert raw.status_code == 201, raw.text
    assert len(raw.json()["item_ids"]) == 2

    page = a.get(f"/v1/banks/{bank['id']}/items", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_after"]
    rest = a.get(f"/v1/banks/{bank['id']}/items", params={"after": page["next_after"]}).json()
    assert len(rest["items"]) == 1 and rest["next_after"] is None
    assert a.get(f"/v1/banks/{bank['id']}").json()["signal_count"] == 4

    revoked = a.post(f"/v1/banks/{bank['id']}/items/{body['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] and not revoked.json()[
        "signals"]
    removed = a.delete(f"/v1/banks/{bank['id']}/items/{raw.json()['item_ids'][0]}")
    assert removed.json()["signals_removed"] == 1
    assert a.get(f"/v1/banks/{bank['id']}/items/{raw.json()['item_ids'][0]}").status_code == 404


def test_invalid_items_are_422_problems(a):
    bank = a.post("/v1/banks", json={"name": unique("bad")}).json()
    url = f"/v1/banks/{bank['id']}/items"
    cases = [
        {"signals": [{"type": "pdq", "value": "zz"}]},                 # invalid hash
        {"signals": [{"type": "nope", "value": "x"}]},                 # unknown type
        {"signals": []},                                                 # none
        {"signals": [{"type": "md5", "value": "0" * 32}], "tlp": "PURPLE"},
        {"signals": [{"type": "md5", "value": "0" * 32}], "labels": [{"kind": "x", "value": "y"}]},
        {"signals": [{"type": "md5", "value": "0" * 32}], "surprise": 1},  # unknown field
    ]
    for body in cases:
        response = a.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 422 and problem["detail"] and problem["instance"] == url


def test_permissions_are_enforced(server):
    with server.client("a", "partner") as partner:
        assert partner.get("/v1/banks").status_code == 200          # banks:read
        denied = partner.post("/v1/banks", json={"name": unique("x")})
        assert denied.status_code == 403
        assert "banks:write" in denied.json()["detail"]
        assert partner.post("/v1/match/signals", json={
            "signals": [{"type": "pdq", "value": PDQ_A}]}).status_code == 403
        assert partner.get("/v1/audit").status_code == 403
    with server.client("a", "admin") as admin:
        bank = admin.post("/v1/banks", json={"name": unique("adm")}).json()
        # admin manages banks but does not add signals (separation of duties)
        assert admin.post(f"/v1/banks/{bank['id']}/signals", json={
            "signals": [{"type": "md5", "value": "0" * 32}]}).status_code == 403
