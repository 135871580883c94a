"""Hashing uploads, matching uploads and signals with full metadata, comparing signals."""

from __future__ import annotations

import time

from api.helpers import near_copy, png, unique


def _pdq(signals: list[dict]) -> str:
    return next(s["value"] for s in signals if s["type"] == "pdq")


def _wait_for_match(client, body, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        result = client.post("/v1/match/signals", json=body)
        assert result.status_code == 200, result.text
        if result.json()["matched"] or time.monotonic() > deadline:
            return result.json()
        time.sleep(0.1)


def test_hash_upload(a):
    response = a.post("/v1/hash", files={"file": ("photo.png", png(1), "image/png")})
    assert response.status_code == 200, response.text
    types = {s["type"] for s in response.json()["signals"]}
    assert {"pdq", "md5", "sha256"} <= types
    pdq = next(s for s in response.json()["signals"] if s["type"] == "pdq")
    assert pdq["quality"] >= 50 and len(pdq["value"]) == 64

    dihedral = a.post("/v1/hash", files={"file": ("p.png", png(1), "image/png")},
                      data={"dihedral": "true"})
    assert len([s for s in dihedral.json()["signals"] if s["type"] == "pdq"]) == 8


def test_match_upload_returns_bank_metadata(server, a):
    bank = a.post("/v1/banks", json={"name": unique("known"), "tlp": "AMBER"}).json()
    hashed = a.post("/v1/hash", files={"file": ("k.png", png(7), "image/png")}).json()
    item = a.post(f"/v1/banks/{bank['id']}/items", json={
        "signals": [{"type": "pdq", "value": _pdq(hashed["signals"])}],
        "labels": [{"kind": "tier", "value": "crisis"}],
        "external_id": "case-7", "source": "partner feed", "source_ref": "feed/7", "tlp": "RED",
    }).json()

    response = a.post("/v1/match", files={"file": ("copy.jpg", near_copy(7), "image/jpeg")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["matched"] is True
    match = next(m for m in result["matches"] if m["item_id"] == item["id"])
    assert match["bank_id"] == bank["id"] and match["bank_name"] == bank["name"]
    assert match["external_id"] == "case-7" and match["source"] == "partner feed"
    assert match["source_ref"] == "feed/7" and match["tlp"] == "RED"
    assert match["labels"] == [{"kind": "tier", "value": "crisis", "reference": None}]
    assert match["signal_type"] == "pdq" and 0 <= match["distance"] <= 31
    assert result["banks"][0]["bank_id"] == bank["id"]

    unrelated = a.post("/v1/match", files={"file": ("u.png", png(99), "image/png")}).json()
    assert item["id"] not in [m["item_id"] for m in unrelated["matches"]]


def test_match_signals_thresholds_and_bank_filter(a):
    bank = a.post("/v1/banks", json={"name": unique("sig")}).json()
    other = a.post("/v1/banks", json={"name": unique("other")}).json()
    value = "f" * 63 + "0"
    a.post(f"/v1/banks/{bank['id']}/signals", json={"signals": [{"type": "pdq", "value": value}]})
    query = "f" * 63 + "7"  # 0x7 vs 0x0: 3 bits away
    body = {"signals": [{"type": "pdq", "value": query}]}
    found = _wait_for_match(a, body)
    assert [m["distance"] for m in found["matches"] if m["bank_id"] == bank["id"]] == [3]

    strict = a.post("/v1/match/signals", json={**body, "thresholds": {"pdq": 2}}).json()
    assert all(m["bank_id"] != bank["id"] for m in strict["matches"])
    only_other = a.post("/v1/match/signals", json={**body, "banks": [other["id"]]}).json()
    assert only_other["matches"] == []

    too_far = a.post("/v1/match/signals", json={**body, "thresholds": {"pdq": 999}})
    assert too_far.status_code == 422
    unknown_bank = a.post("/v1/match/signals", json={**body, "banks": ["no-such-bank"]})
    assert unknown_bank.status_code == 404


def test_disabled_bank_does_not_match(a):
    bank = a.post("/v1/banks", json={"name": unique("off")}).json()
    value = "0123456789abcdef" * 4
    a.post(f"/v1/banks/{bank['id']}/signals", json={"signals": [{"type": "pdq", "value": value}]})
    body = {"signals": [{"type": "pdq", "value": value}]}
    assert _wait_for_match(a, body)["matched"]
    a.patch(f"/v1/banks/{bank['id']}", json={"matching_enabled": False})
    assert all(m["bank_id"] != bank["id"]
               for m in a.post("/v1/match/signals", json=body).json()["matches"])
    # Matches are answered from cached metadata; an edit is visible in the very next lookup.
    renamed = unique("renamed")
    a.patch(f"/v1/banks/{bank['id']}", json={"matching_enabled": True, "name": renamed})
    ours = [m for m in a.post("/v1/match/signals", json=body).json()["matches"]
            if m["bank_id"] == bank["id"]]
    assert [m["bank_name"] for m in ours] == [renamed]


def test_write_by_another_process_becomes_matchable(server, a):
    """A signal added straight to the database (as the CLI would) is picked up by polling."""
    from countersignal.banks.service import ItemInput, SignalInput, add_item, get_bank

    bank = a.post("/v1/banks", json={"name": unique("cli")}).json()
    value = "a5" * 32
    sessions = server.sessions()
    with sessions.begin() as session:
        add_item(session, get_bank(session, server.orgs["a"].id, bank["id"]),
                 ItemInput(signals=[SignalInput("pdq", value)]))
    sessions.kw["bind"].dispose()
    started = time.monotonic()
    found = _wait_for_match(a, {"signals": [{"type": "pdq", "value": value}]})
    assert found["matched"], "not matchable within 5 s"
    assert time.monotonic() - started < 3


def test_compare(a):
    x, y = "f" * 64, "f" * 62 + "00"
    result = a.post("/v1/compare", json={"a": {"type": "pdq", "value": x},
                                         "b": {"type": "pdq", "value": y}}).json()
    assert result == {"signal_type": "pdq", "distance": 8, "threshold": 31, "match": True}
    assert a.post("/v1/compare", json={"a": {"type": "pdq", "value": x},
                                       "b": {"type": "md5", "value": "0" * 32}}).status_code == 422


def test_lookups_that_would_fetch_a_whole_bank_are_refused(a):
    """A huge threshold (or a bank of near-identical hashes) must not make one request fetch
    metadata for thousands of stored signals."""
    bank = a.post("/v1/banks", json={"name": unique("crowd")}).json()
    base = int("9" * 64, 16)
    values = sorted({f"{base ^ (1 << i) ^ (1 << j):064x}" for i in range(256)
                     for j in range(i, 256)})[:1001]
    for chunk in (values[:600], values[600:]):
        added = a.post(f"/v1/banks/{bank['id']}/signals",
                       json={"signals": [{"type": "pdq", "value": v} for v in chunk]})
        assert added.status_code == 201, added.text
    body = {"signals": [{"type": "pdq", "value": f"{base:064x}"}]}
    deadline = time.monotonic() + 5
    while (response := a.post("/v1/match/signals", json=body)).status_code == 200:
        assert time.monotonic() < deadline, "the 1001 signals never became matchable"
        time.sleep(0.2)
    assert response.status_code == 422 and "lower it" in response.json()["detail"]
    exact_only = a.post("/v1/match/signals", json={**body, "thresholds": {"pdq": 0}})
    assert exact_only.status_code == 200  # a narrow lookup near the same crowd still works
    assert a.post("/v1/match/signals", json={**body, "thresholds": {"pdq": 64}}).status_code == 422
