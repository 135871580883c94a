"""Replicated serving: three real API processes on one PostgreSQL, kept current from the change
log (NOTIFY wake-up, polling fallback), one of them crashed and restarted mid-run."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from .replicas import (
    add_signal,
    drop_cluster,
    match_items,
    random_pdq,
    start_cluster,
    wait_visible,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def max_seq(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT coalesce(max(seq), 0) FROM signal_changes"))
    finally:
        engine.dispose()


@pytest.fixture
def cluster(pg_server, tmp_path):
    # Poll rarely (2 s): an add that shows up on another replica within 1 s got there by
    # NOTIFY. Snapshot every second, so the crashed replica has a recent one to restart from.
    env = {"COUNTERSIGNAL_API_MATCHER_POLL_S": "2", "COUNTERSIGNAL_API_MATCHER_SNAPSHOT_S": "1"}
    cluster = start_cluster(tmp_path, 3, env)
    yield cluster
    drop_cluster(cluster)


def test_three_replicas_stay_current_through_a_crash_and_restart(cluster):
    clients = [cluster.client(i) for i in range(3)]
    added: dict[str, str] = {}  # pdq value -> item id
    # No warm-up here: each replica loads its PDQ kernels before it reports ready, so even the
    # first query after a (re)start must see a new signal within 1 s.
    for round_number in range(12):
        writer = round_number % 3
        value = random_pdq()
        added[value] = add_signal(clients[writer], cluster.bank_id, value)
        for reader in {0, 1, 2} - {writer}:
            assert wait_visible(clients[reader], value, timeout_s=5) < 1.0

    crashed = cluster.replicas[2]
    deadline = time.monotonic() + 10
    while not crashed.manifest.is_file() or json.loads(crashed.manifest.read_text())["seq"] == 0:
        assert time.monotonic() < deadline, "replica 2 wrote no periodic snapshot"
        time.sleep(0.2)
    snapshot_seq = json.loads(crashed.manifest.read_text())["seq"]
    crashed.kill()

    for round_number in range(8):  # writes continue through the survivors meanwhile
        value = random_pdq()
        added[value] = add_signal(clients[round_number % 2], cluster.bank_id, value)
    seq_at_restart = max_seq(cluster.database_url)
    assert seq_at_restart > snapshot_seq

    crashed.start_in_background()
    clients[2].close()
    clients[2] = cluster.client(2)
    seen_not_ready = False
    deadline = time.monotonic() + 90
    while True:
        try:
            ready = clients[2].get("/readyz")
        except httpx.TransportError:
            ready = None
        if ready is not None and ready.status_code == 200:
            break
        seen_not_ready = True
        assert time.monotonic() < deadline, "restarted replica never became ready"
        time.sleep(0.05)
    assert seen_not_ready
    assert ready.json()["applied_seq"] >= seq_at_restart  # ready only once caught up
    # Every signal is there at the first ready answer: the snapshot plus the replayed tail.
    assert all(match_items(clients[2], value) == [item] for value, item in added.items())

    value = random_pdq()  # the restarted replica serves writes the others see, and vice versa
    added[value] = add_signal(clients[2], cluster.bank_id, value)
    assert wait_visible(clients[0], value) < 1.0
    value = random_pdq()
    added[value] = add_signal(clients[1], cluster.bank_id, value)
    assert wait_visible(clients[2], value) < 1.0

    for client in clients:  # nothing lost, nothing twice, on every replica
        assert client.get("/readyz").json()["indexes"]["pdq"] == len(added)
        for value, item in added.items():
            assert match_items(client, value) == [item]
        client.close()
