"""Concurrent appenders never fork the chain: threads and separate processes, PostgreSQL and
SQLite. Writers overlap on purpose (a barrier or a common start time) and some roll back."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from countersignal.audit import Actor, AuditEvent, Target, record, verify
from countersignal.db import make_engine, migrate, session_factory

WRITERS = 8
EVENTS_EACH = 25
ROLLBACK_EVERY = 5


class Abort(Exception):
    pass


def write_events(factory, writer: int, barrier: threading.Barrier) -> int:
    """Append EVENTS_EACH events, one transaction each, rolling back every ROLLBACK_EVERY-th;
    returns how many committed."""
    barrier.wait()
    committed = 0
    for i in range(EVENTS_EACH):
        try:
            with factory() as session, session.begin():
                record(
                    session,
                    actor=Actor("token", f"tok_w{writer}"),
                    action="match.submit",
                    target=Target("submission", f"sub_{writer}_{i}"),
                    organisation_id=f"org_{writer % 3}",
                    details={"writer": writer, "i": i},
                )
                if i % ROLLBACK_EVERY == ROLLBACK_EVERY - 1:
                    raise Abort
            committed += 1
        except Abort:
            pass
    return committed


def verify_while_writing(factory, writers, barrier: threading.Barrier) -> list:
    """Verify repeatedly while the writers run: a reader must never see a broken chain."""
    barrier.wait()
    results = []
    while not all(w.done() for w in writers) or not results:
        with factory() as session:
            results.append(verify(session))
    return results


def assert_one_chain(factory, expected: int) -> None:
    with factory() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        result = verify(session)
    assert seqs == list(range(1, expected + 1))
    assert result.ok, result.problem
    assert result.events_checked == expected


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_threads_build_one_chain(request, db):
    url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    migrate(url)
    engine = make_engine(url, pool_size=WRITERS) if db == "postgres" else make_engine(url)
    try:
        factory = session_factory(engine)
        barrier = threading.Barrier(WRITERS + 1)
        with ThreadPoolExecutor(WRITERS + 1) as pool:
            futures = [pool.submit(write_events, factory, w, barrier) for w in range(WRITERS)]
            verdicts = pool.submit(verify_while_writing, factory, futures, barrier)
            committed = sum(f.result(timeout=120) for f in futures)
            verdicts = verdicts.result(timeout=120)
        assert committed == WRITERS * (EVENTS_EACH - EVENTS_EACH // ROLLBACK_EVERY)
        assert_one_chain(factory, committed)
        assert verdicts and all(r.ok for r in verdicts), [r.problem for r in verdicts]
    finally:
        engine.dispose()


WRITER_PROCESS = """
import sys, time
from countersignal.audit import Actor, Target, record
from countersignal.db import make_engine, session_factory
url, writer, count, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
factory = session_factory(make_engine(url))
time.sleep(max(0.0, start_at - time.time()))
for i in range(count):
    with factory() as session, session.begin():
        record(session, actor=Actor("system", f"worker-{writer}"), action="index.rebuild",
               target=Target("index", "pdq"), organisation_id=None, details={"i": i})
        time.sleep(0.001)  # hold the head lock a moment, as a real transaction would
print("done")
"""


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_processes_build_one_chain_on_postgres(pg_url):
    """Several API processes appending at once (separate interpreters, separate connections)."""
    migrate(pg_url)
    processes, count = 4, 40
    start_at = time.time() + 4  # after every interpreter has imported and connected
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_PROCESS, pg_url, str(w), str(count), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(processes)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    engine = make_engine(pg_url)
    try:
        factory = session_factory(engine)
        assert_one_chain(factory, processes * count)
        with factory() as session:
            writers_seen = session.scalar(select(func.count(func.distinct(AuditEvent.actor_id))))
            # interleaved, not one process after another: the writers really overlapped
            actors = list(session.scalars(select(AuditEvent.actor_id).order_by(AuditEvent.seq)))
        assert writers_seen == processes
        switches = sum(a != b for a, b in itertools.pairwise(actors))
        assert switches > processes
    finally:
        engine.dispose()
