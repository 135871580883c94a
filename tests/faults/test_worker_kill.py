"""``kill -9`` of a webhook worker mid-delivery, and of a CLI bank import mid-file: the
interrupted work resumes, every webhook reaches a real loopback receiver at least once with one
idempotency key and identical bytes, and a re-run import adds nothing twice."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter

from sqlalchemy import func, select

from countersignal.actions.crypto import Keyring
from countersignal.actions.models import OutboxMessage
from countersignal.actions.webhooks import enqueue, register_endpoint
from countersignal.auth import Principal
from countersignal.banks.models import BankItem
from countersignal.db import transaction
from faults.conftest import Live, wait_for

MESSAGES = 30
WORKER = """
from countersignal.actions.webhooks import RetryPolicy
from countersignal.cases.worker import worker_for
from countersignal.runtime import Runtime

# the production lease is 120 s; a short one lets the test see the lapsed claims retried
worker_for(Runtime(auto_migrate=False), policy=RetryPolicy(lease_s=2.0),
           interval_s=0.2).run_forever()
"""


def _delivered(live: Live, sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "delivered"))


def test_worker_killed_mid_delivery_delivers_all_at_least_once(live: Live, slow_receiver):
    live.prepare()
    sessions = live.sessions()
    with transaction(sessions) as session:
        register_endpoint(session, Principal.system("tests"), url=slow_receiver.url,
                          organisation_id=live.org.id, keyring=Keyring.from_settings(
                              live.settings), allow_private=True)
        for n in range(MESSAGES):
            enqueue(session, organisation_id=live.org.id, event="case.escalated",
                    subject_id=f"case_{n}", data={"case_id": f"case_{n}", "n": n})
    expected = {f"case.escalated:case_{n}" for n in range(MESSAGES)}

    worker = live.spawn("-c", WORKER, log="worker-1.log")
    wait_for(lambda: len(slow_receiver.deliveries) >= 8, 60, "8 deliveries")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    at_kill = _delivered(live, sessions)
    assert at_kill < MESSAGES, "the kill came too late to interrupt anything"

    worker = live.spawn("-c", WORKER, log="worker-2.log")
    try:
        wait_for(lambda: _delivered(live, sessions) == MESSAGES, 60, "every message delivered")
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()

    received = Counter(slow_receiver.keys())
    assert set(received) == expected, "a message was never delivered"
    repeats = sum(received.values()) - MESSAGES
    assert repeats <= 1, f"{repeats} repeats: only the one post in flight may repeat"
    for key in (k for k, n in received.items() if n > 1):
        bodies = {d.body for d in slow_receiver.deliveries if d.key == key}
        assert len(bodies) == 1, "a repeat must be byte-identical (same id, same signature base)"
        assert json.loads(bodies.pop())["idempotency_key"] == key
    with sessions() as session:
        attempts = session.scalar(select(func.sum(OutboxMessage.attempts)))
    assert attempts == MESSAGES, "only recorded posts count as attempts"


def test_import_killed_and_rerun_adds_nothing_twice(live: Live):
    live.prepare()
    items = 1200
    path = live.tmp / "items.jsonl"
    with path.open("w") as fh:
        for n in range(items):
            fh.write(json.dumps({"external_id": f"ext-{n}", "signals": [
                {"type": "md5", "value": f"{n:032x}"}]}) + "\n")
    from countersignal.banks.service import create_bank

    sessions = live.sessions()
    with transaction(sessions) as session:
        bank_id = create_bank(session, organisation_id=live.org.id, name="imported").id

    def count() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(BankItem).where(
                BankItem.bank_id == bank_id))

    importer = live.spawn("bank", "import", "imported", str(path), log="import-1.log")
    wait_for(lambda: count() >= 500, 120, "the first committed batch", interval=0.02)
    os.kill(importer.pid, signal.SIGKILL)
    importer.wait()
    interrupted = count()
    assert 0 < interrupted < items

    rerun = live.spawn("bank", "import", "imported", str(path), log="import-2.log")
    assert rerun.wait(120) == 0, (live.tmp / "import-2.log").read_text()
    with sessions() as session:
        external = Counter(session.scalars(select(BankItem.external_id).where(
            BankItem.bank_id == bank_id)))
    assert len(external) == items and max(external.values()) == 1, (
        f"{sum(external.values()) - items} items imported twice")
