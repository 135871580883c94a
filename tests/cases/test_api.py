"""The HTTP routes for cases, actions and reports, end to end through the real FastAPI app
(auth, problem responses, body limits) with real tokens, on SQLite and PostgreSQL. Only this
capability's routers are mounted, so the test does not depend on other packages' pages."""

from __future__ import annotations

import base64
import time

import pytest
from fastapi.testclient import TestClient

from cases.world import AUTO_REMOVE_RULE, png_bytes
from countersignal.actions.crypto import Keyring
from countersignal.actions.webhooks import register_endpoint, verify_signature
from countersignal.auth import Principal, create_organisation, issue_token
from countersignal.banks.service import ItemInput, LabelInput, SignalInput, add_item, create_bank
from countersignal.db import transaction
from countersignal.signals import hash_bytes

ROLES = {"platform": ["platform-client"], "alice": ["reviewer"], "bob": ["reviewer"],
         "admin": ["admin"], "auditor": ["auditor"]}


@pytest.fixture
def api(migrated_db_url, session_factory, tmp_path, monkeypatch):
    from countersignal.api import app as app_module
    from countersignal.runtime import Runtime
    from countersignal.settings import Settings

    monkeypatch.setattr(app_module, "ROUTERS", (
        "countersignal.api.routes.health", "countersignal.api.routes.cases",
        "countersignal.api.routes.actions", "countersignal.api.routes.reports"))
    operator = Principal.system("tests")
    tokens: dict[str, str] = {}
    with transaction(session_factory) as s:
        orgs = [create_organisation(s, by=operator, name=name, kind="platform", country="DE").id
                for name in ("Platform A", "Platform B")]
        for who, roles in ROLES.items():
            tokens[who] = issue_token(s, by=operator, organisation_id=orgs[0], name=who,
                                      roles=roles)[1]
        tokens["stranger"] = issue_token(s, by=operator, organisation_id=orgs[1],
                                         name="stranger", roles=["reviewer", "auditor"])[1]
    settings = Settings(home=tmp_path / "home", database_url=migrated_db_url)
    app = app_module.create_app(Runtime(settings=settings, auto_migrate=False))
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while not app.state.api.keeper.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client, tokens, orgs[0], app, session_factory


def auth(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


def test_cases_actions_reports_over_http(api, receiver):
    client, tokens, org, app, factory = api
    image = png_bytes(7)
    pdq = next(s.value for s in hash_bytes(image) if s.type == "pdq")
    with transaction(factory) as s:
        trusted = create_bank(s, organisation_id=org, name="gifct", trusted=True)
        add_item(s, trusted, ItemInput(signals=[SignalInput("pdq", pdq)],
                                       labels=[LabelInput.parse("designated_entity:ISIL")]))
        untrusted = create_bank(s, organisation_id=org, name="leads")
        add_item(s, untrusted, ItemInput(signals=[SignalInput("md5", "a" * 32)],
                                         labels=[LabelInput.parse("behaviour:glorification")]))
    app.state.api.keeper.sync_now()

    # policy: admin only, validated
    assert client.put("/v1/policy", json={"rules": [AUTO_REMOVE_RULE]},
                      headers=auth(tokens, "alice")).status_code == 403
    bad = client.put("/v1/policy", json={"rules": [{**AUTO_REMOVE_RULE, "when": {
        "source": "classifier"}}]}, headers=auth(tokens, "admin"))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert client.put("/v1/policy", json={"rules": [AUTO_REMOVE_RULE]},
                      headers=auth(tokens, "admin")).status_code == 200

    # webhooks: loopback refused for tenants (SSRF); the operator may allow it (CLI)
    hook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x"},
                       headers=auth(tokens, "admin"))
    assert hook.status_code == 422 and "public address" in hook.json()["detail"]
    with transaction(factory) as s:
        _, secret = register_endpoint(
            s, Principal.system("tests"), url=receiver.url, organisation_id=org,
            keyring=Keyring.from_settings(app.state.api.runtime.settings), allow_private=True)

    # an upload matching a trusted bank under the rule is removed automatically
    auto = client.post("/v1/submissions", files={"file": ("a.png", image, "image/png")},
                       data={"content_id": "post-1", "uploader_id": "u-1", "territory": "DE"},
                       headers=auth(tokens, "platform"))
    assert auto.status_code == 201, auto.text
    body = auto.json()
    assert body["outcome"] == "auto_action" and body["decision"]["automated"] is True
    assert body["matches"][0]["bank_trusted"] is True
    # the in-process worker (started with the app) delivers the signed webhook
    deadline = time.monotonic() + 20
    while not receiver.events("decision.remove") and time.monotonic() < deadline:
        time.sleep(0.1)
    [delivered] = receiver.events("decision.remove")
    assert delivered.json["data"]["content_id"] == "post-1"
    assert verify_signature(secret, delivered.headers["Countersignal-Signature"], delivered.body)

    # signals from an untrusted bank open a case for review
    review = client.post("/v1/submissions/signals", json={
        "content_id": "post-2", "signals": [{"type": "md5", "value": "A" * 32}]},
        headers=auth(tokens, "platform")).json()
    case_id = review["case"]["id"]
    assert review["outcome"] == "review"
    queue = client.get("/v1/cases", headers=auth(tokens, "alice")).json()["cases"]
    assert [c["id"] for c in queue] == [case_id]
    assert client.get(f"/v1/cases/{case_id}", headers=auth(tokens, "stranger")).status_code == 404
    assert client.post(f"/v1/cases/{case_id}/decisions", json={
        "action": "remove", "ground_type": "legal", "ground": "x", "explanation": "short"},
        headers=auth(tokens, "alice")).status_code == 422
    decided = client.post(f"/v1/cases/{case_id}/decisions", json={
        "action": "label", "ground_type": "terms_of_service", "ground": "ToS 4.2",
        "explanation": "Glorification; labelled with a warning interstitial."},
        headers=auth(tokens, "alice"))
    assert decided.status_code == 201 and decided.json()["status"] == "effective"
    detail = client.get(f"/v1/cases/{case_id}", headers=auth(tokens, "bob")).json()
    assert detail["statements"][0]["decision_visibility"] == [
        "DECISION_VISIBILITY_CONTENT_LABELLED"]

    # removal order: intake, clock, response
    order = client.post("/v1/removal-orders", json={
        "authority": "BKA", "authority_country": "DE", "authority_reference": "BKA-7",
        "legal_basis": "Regulation (EU) 2021/784 Art. 3", "content_reference": "https://x/p/3",
        "received_at": "2026-03-02T09:00:00Z"}, headers=auth(tokens, "alice")).json()
    assert order["deadline"].startswith("2026-03-02T10:00:00")
    answered = client.post(f"/v1/removal-orders/{order['id']}/response", json={
        "outcome": "not_done", "reason": "insufficient_information",
        "explanation": "No identifiable content."}, headers=auth(tokens, "alice")).json()
    assert answered["status"] == "not_done" and answered["late"] is True

    # appeal against the automatic removal, reversed by a reviewer
    decision_id = body["decision"]["id"]
    appeal = client.post(f"/v1/decisions/{decision_id}/appeals", json={
        "statement": "This is news footage."}, headers=auth(tokens, "platform")).json()
    reversed_ = client.post(f"/v1/appeals/{appeal['id']}/decision", json={
        "outcome": "reversed", "explanation": "News context; restored."},
        headers=auth(tokens, "bob"))
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed"

    # statements of reasons export, transparency report, evidence vault
    batches = client.get("/v1/statements", headers=auth(tokens, "alice")).json()["batches"]
    assert sum(len(b["statements"]) for b in batches) == 2
    period = {"start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
    report = client.get("/v1/reports/transparency", params=period,
                        headers=auth(tokens, "auditor")).json()
    assert report["tco"]["restorations"]["reinstated"] == 1
    assert report["tco"]["removal_orders"]["not_acted_on_by_reason"][
        "insufficient_information"] == 1
    csv_text = client.get("/v1/reports/transparency", params={**period, "format": "csv"},
                          headers=auth(tokens, "auditor")).text
    assert "tco.items.removed,1" in csv_text
    html = client.get("/v1/reports/transparency", params={**period, "format": "html"},
                      headers=auth(tokens, "auditor"))
    assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text
    entry = body["case"]["vault_entry_id"]
    denied = client.post(f"/v1/vault/{entry}/read", json={"reason": "appeal check"},
                         headers=auth(tokens, "platform"))
    assert denied.status_code == 403, denied.text
    opened = client.post(f"/v1/vault/{entry}/read", json={"reason": "appeal check"},
                         headers=auth(tokens, "auditor")).json()
    assert base64.b64decode(opened["content_base64"]) == image
    assert opened["metadata"]["content_id"] == "post-1"
    assert client.get("/v1/webhooks/dead-letters",
                      headers=auth(tokens, "alice")).json() == {"messages": []}
