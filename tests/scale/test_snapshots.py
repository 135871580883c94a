"""Keeper snapshots: periodic and atomic, restarts replay only the log tail, and replicas that
share a snapshot folder (``serve --workers N`` on one host) never leave a mixed snapshot."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import delete, func, select

from countersignal.api.keeper import MatcherKeeper
from countersignal.banks import service
from countersignal.banks.models import SignalChange
from countersignal.banks.service import ItemInput, SignalInput
from countersignal.index.matcher import Matcher
from countersignal.runtime import Runtime
from countersignal.settings import Settings
from countersignal.signals import Signal

ORG = "org_scale"


def add_pdq(sessions, count: int, rng: random.Random) -> list[str]:
    values = [f"{rng.getrandbits(256):064x}" for _ in range(count)]
    with sessions.begin() as session:
        bank = _bank(session)
        for value in values:
            service.add_item(session, bank, ItemInput(signals=[SignalInput("pdq", value)]))
    return values


def _bank(session):
    from countersignal.banks.models import Bank

    bank = session.scalar(select(Bank).where(Bank.organisation_id == ORG))
    return bank or service.create_bank(session, organisation_id=ORG, name="snap")


def last_seq(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.max(SignalChange.seq)))


def wait_for(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_keeper_snapshots_and_a_restart_replays_only_the_tail(migrated_db_url, tmp_path):
    rng = random.Random(5)
    settings = Settings(home=tmp_path / "home", database_url=migrated_db_url)
    runtime = Runtime(settings, auto_migrate=False)
    keeper = MatcherKeeper(runtime, poll_s=0.05, snapshot_every_s=0.1)
    keeper.start()
    try:
        wait_for(lambda: keeper.ready)
        if migrated_db_url.startswith("postgresql"):
            wait_for(lambda: keeper.listening)
        else:
            assert not keeper.listening  # SQLite has no NOTIFY: polling only
        before = add_pdq(runtime.sessions, 30, rng)
        wait_for(lambda: keeper.snapshot_seq == last_seq(runtime.sessions))
    finally:
        keeper.stop()
    snapshot_seq = keeper.snapshot_seq
    # Prune the log before the snapshot: a restart that replayed more than the tail would
    # now miss those signals. (Keep the newest row: SQLite reuses the numbers of deleted
    # rows at the end of a table.)
    with runtime.sessions.begin() as session:
        session.execute(delete(SignalChange).where(SignalChange.seq < snapshot_seq))
    after = add_pdq(runtime.sessions, 3, rng)
    runtime.close()

    restarted = Runtime(settings, auto_migrate=False)
    try:
        matcher = restarted.matcher
        assert matcher.status()["indexes"]["pdq"] == len(before) + len(after)
        assert matcher.applied_seq == snapshot_seq + len(after)
        for value in (before[0], before[-1], *after):
            assert len(matcher.query([Signal("pdq", value)], {"pdq": 0})) == 1
    finally:
        restarted.close()


def test_replicas_sharing_a_snapshot_folder_never_mix_snapshots(session_factory, tmp_path):
    """Two replicas at different log positions save into one folder while a third restarts
    from it: every restart must see every signal (a manifest naming a later sequence number
    than its index files hold would silently skip the signals in between)."""
    rng = random.Random(9)
    folder = tmp_path / "indexes"
    add_pdq(session_factory, 400, rng)
    behind = Matcher(session_factory, folder).load()
    add_pdq(session_factory, 400, rng)
    ahead = Matcher(session_factory, folder).load()
    total = ahead.status()["indexes"]["pdq"]
    stop = threading.Event()

    def keep_saving(matcher: Matcher) -> None:
        while not stop.is_set():
            matcher.save()

    savers = [threading.Thread(target=keep_saving, args=(m,)) for m in (behind, ahead)]
    for thread in savers:
        thread.start()
    try:
        sizes = []
        for _ in range(40):
            try:
                sizes.append(Matcher(session_factory, folder).load().status()["indexes"]["pdq"])
            except FileNotFoundError:
                continue
    finally:
        stop.set()
        for thread in savers:
            thread.join()
    sizes.append(Matcher(session_factory, folder).load().status()["indexes"]["pdq"])
    assert sizes and set(sizes) == {total}
