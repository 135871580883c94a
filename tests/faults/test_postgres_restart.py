"""PostgreSQL stopped and started under load: the API answers 503 (never 500) while it is away,
recovers by itself, and loses nothing: every acknowledged write is there once, the audit chain
verifies. Marked slow and run last (conftest), as other suites share this PostgreSQL."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from countersignal.audit import AuditEvent, verify
from countersignal.banks.models import Signal
from faults.conftest import Live, wait_for

CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]
BATCH = 5
OUTAGE_S = 2.0


def _pg(action: str) -> None:
    subprocess.run([*CLUSTER, action, *(["-m", "fast"] if action == "stop" else [])],
                   check=True, capture_output=True, timeout=60)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_outage_gives_503_and_recovers(live_pg: Live):
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs root and Debian's pg_ctlcluster")
    live = live_pg
    live.start()
    with live.client("curator") as client:
        bank_id = client.post("/v1/banks", json={"name": "outage"}).json()["id"]
    attempts: list[tuple[int, list[str]]] = []
    stop = threading.Event()

    def write() -> None:
        rng = random.Random(3)
        with live.client("curator", timeout=10) as client:
            while not stop.is_set():
                values = [f"{rng.getrandbits(256):064x}" for _ in range(BATCH)]
                try:
                    status = client.post(f"/v1/banks/{bank_id}/signals", json={
                        "signals": [{"type": "pdq", "value": v} for v in values]}).status_code
                except httpx.TransportError:
                    status = 0
                attempts.append((status, values))
                time.sleep(0.02)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: len(attempts) >= 10, 30, "writes before the outage")
        _pg("stop")
        time.sleep(OUTAGE_S)
    finally:
        _pg("start")  # whatever happened, leave PostgreSQL running for everyone else
    down_at = len(attempts)
    try:
        wait_for(lambda: any(s == 201 for s, _ in attempts[down_at:]), 30, "a write after")
        wait_for(lambda: httpx.get(f"{live.url}/readyz").status_code == 200, 30, "ready again")
    finally:
        stop.set()
        writer.join(15)

    statuses = Counter(status for status, _ in attempts)
    assert set(statuses) <= {201, 503}, f"only 201 or 503 while the database restarts: {statuses}"
    assert statuses[503] >= 1, "the outage was not seen"
    with live.sessions()() as session:
        stored = Counter(session.scalars(select(Signal.value).where(Signal.bank_id == bank_id)))
        events = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "signals.add", AuditEvent.target_id == bank_id))
        chain = verify(session)
    committed = 0
    for status, values in attempts:
        present = sum(stored[v] for v in values)
        if status == 201:
            assert present == BATCH, "an acknowledged write was lost"
        assert present in (0, BATCH)
        committed += present == BATCH
    assert max(stored.values()) == 1 and sum(stored.values()) == committed * BATCH
    assert events == committed
    assert chain.ok, chain.problem
