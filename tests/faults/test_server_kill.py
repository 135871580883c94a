"""``kill -9`` of the API server in the middle of bank writes and case decisions: after a
restart, every acknowledged write is there exactly once, every unacknowledged one is all there
or not at all, each committed write has exactly its audit event, and the chain verifies."""

from __future__ import annotations

import random
import threading
from collections import Counter

import httpx
from sqlalchemy import func, select

from countersignal.audit import AuditEvent, verify
from countersignal.banks.models import BankItem, Signal, SignalChange
from faults.conftest import Live, wait_for

BATCH = 10
WRITERS = 3


def _writer(live: Live, bank_id: str, seed: int, acked: list, unknown: list, stop) -> None:
    rng = random.Random(seed)
    with live.client("curator", timeout=10) as client:
        while not stop.is_set():
            values = [f"{rng.getrandbits(256):064x}" for _ in range(BATCH)]
            try:
                response = client.post(f"/v1/banks/{bank_id}/signals", json={
                    "signals": [{"type": "pdq", "value": v} for v in values]})
            except httpx.TransportError:
                unknown.append(values)  # sent; the answer never came: committed or not
                return
            assert response.status_code == 201, response.text
            acked.append((values, response.json()["item_ids"]))


def test_kill_during_signal_writes(live: Live):
    live.start()
    with live.client("curator") as client:
        bank_id = client.post("/v1/banks", json={"name": "crash"}).json()["id"]
    acked: list = []
    unknown: list = []
    stop = threading.Event()
    writers = [threading.Thread(target=_writer, args=(live, bank_id, n, acked, unknown, stop))
               for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    wait_for(lambda: len(acked) >= 15, 60, "15 acknowledged batches")
    live.kill()
    stop.set()
    for thread in writers:
        thread.join(15)
    live.start()

    with live.sessions()() as session:
        rows = session.execute(select(Signal.value, Signal.item_id)
                               .where(Signal.bank_id == bank_id)).all()
        by_value = Counter(value for value, _ in rows)
        items = set(session.scalars(select(BankItem.id).where(BankItem.bank_id == bank_id)))
        events = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "signals.add", AuditEvent.target_id == bank_id))
        logged = session.scalar(select(func.count()).select_from(SignalChange).where(
            SignalChange.signal_id.in_(select(Signal.id).where(Signal.bank_id == bank_id))))
        chain = verify(session)
    assert max(by_value.values()) == 1, "a signal was stored twice"
    for values, item_ids in acked:
        assert all(by_value[v] == 1 for v in values), "an acknowledged signal was lost"
        assert set(item_ids) <= items
    committed_unknown = 0
    for values in unknown:
        present = sum(by_value[v] for v in values)
        assert present in (0, BATCH), f"a batch was half committed ({present}/{BATCH})"
        committed_unknown += present == BATCH
    batches = len(acked) + committed_unknown
    assert len(rows) == len(items) == logged == batches * BATCH
    assert events == batches, "each committed batch has exactly one audit event"
    assert chain.ok, chain.problem

    # the restarted server matches every committed signal (its index came back from the log)
    with live.client("curator") as client:
        values = [v for batch, _ in acked for v in batch]
        for start in range(0, len(values), 100):
            answer = client.post("/v1/match/signals", json={
                "signals": [{"type": "pdq", "value": v} for v in values[start:start + 100]]})
            assert answer.status_code == 200
            found = {m["signal_value"] for m in answer.json()["matches"]}
            assert found >= set(values[start:start + 100])


def test_kill_during_decisions(live: Live):
    live.start()
    cases = 24
    with live.client("curator") as curator:
        bank_id = curator.post("/v1/banks", json={"name": "leads"}).json()["id"]
        values = [f"{n:032x}" for n in range(cases)]
        assert curator.post(f"/v1/banks/{bank_id}/signals", json={
            "signals": [{"type": "md5", "value": v} for v in values],
            "labels": [{"kind": "behaviour", "value": "glorification"}]}).status_code == 201
    with live.client("platform-client") as platform:
        case_ids = []
        for n, value in enumerate(values):
            answer = platform.post("/v1/submissions/signals", json={
                "content_id": f"post-{n}", "signals": [{"type": "md5", "value": value}]})
            assert answer.status_code == 201, answer.text
            case_ids.append(answer.json()["case"]["id"])
    decision = {"action": "label", "ground_type": "terms_of_service", "ground": "ToS 4.2",
                "explanation": "Glorification; labelled with a warning interstitial."}
    acked: dict[str, str] = {}
    unknown: list[str] = []

    def decide_all(ids: list[str]) -> None:
        with live.client("reviewer", timeout=10) as reviewer:
            for case_id in ids:
                try:
                    answer = reviewer.post(f"/v1/cases/{case_id}/decisions", json=decision)
                except httpx.TransportError:
                    unknown.append(case_id)
                    return
                assert answer.status_code == 201, answer.text
                acked[case_id] = answer.json()["id"]

    threads = [threading.Thread(target=decide_all, args=(case_ids[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acked) >= 6, 60, "6 decisions")
    live.kill()
    for thread in threads:
        thread.join(15)
    live.start()

    # resume: decide what has no acknowledged decision; a case decided before the crash says so
    with live.client("reviewer") as reviewer:
        for case_id in case_ids:
            if case_id in acked:
                continue
            answer = reviewer.post(f"/v1/cases/{case_id}/decisions", json=decision)
            assert answer.status_code in (201, 409), answer.text
            assert answer.status_code == 201 or case_id in unknown

    from countersignal.actions.models import OutboxMessage
    from countersignal.cases.models import Case, Decision

    with live.sessions()() as session:
        per_case = Counter(session.scalars(select(Decision.case_id)))
        decision_ids = set(session.scalars(select(Decision.id)))
        decided_events = Counter(session.scalars(select(AuditEvent.target_id).where(
            AuditEvent.action == "case.decide")))
        opened = session.scalar(select(func.count()).select_from(Case))
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
        chain = verify(session)
    assert per_case == Counter({case_id: 1 for case_id in case_ids}), per_case
    assert set(acked.values()) <= decision_ids
    assert decided_events == per_case, "each decision has exactly one case.decide event"
    assert opened == cases and outbox == 0  # no endpoint registered: nothing queued
    assert chain.ok, chain.problem
