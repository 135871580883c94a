"""The matcher keeps indexes current from the change log, snapshots, and scopes results."""

from __future__ import annotations

import hashlib
import random

from sqlalchemy import select

from countersignal.banks import service
from countersignal.banks.models import SignalChange
from countersignal.banks.service import ItemInput, LabelInput, SignalInput
from countersignal.errors import NotFound
from countersignal.index.matcher import Matcher, match_signals
from countersignal.signals import Signal

ORG, OTHER = "org_a", "org_b"


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def flip(hex_hash: str, bits: int, rng: random.Random) -> str:
    value = int(hex_hash, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def _add(session_factory, bank_name: str, signals: list[SignalInput], org: str = ORG, **kw):
    with session_factory.begin() as s:
        try:
            bank = service.get_bank(s, org, bank_name)
        except NotFound:  # first use creates it
            bank = service.create_bank(s, organisation_id=org, name=bank_name)
        return service.add_item(s, bank, ItemInput(signals=signals, **kw)).id


def test_match_add_remove_without_rebuild(session_factory, tmp_path):
    rng = random.Random(7)
    stored = [random_pdq(rng) for _ in range(200)]
    for n, value in enumerate(stored):
        _add(
            session_factory,
            "known",
            [SignalInput("pdq", value)],
            external_id=f"k{n}",
            labels=[LabelInput("tier", "crisis")],
            source="partner-x",
        )
    matcher = Matcher(session_factory, tmp_path / "idx").load()
    assert matcher.status()["indexes"]["pdq"] == 200

    query = Signal("pdq", flip(stored[42], 20, rng), quality=100)
    with session_factory() as s:
        found = match_signals(s, matcher, ORG, [query])
        assert [(m.external_id, m.distance) for m in found] == [("k42", 20)]
        assert found[0].labels == [{"kind": "tier", "value": "crisis", "reference": None}]
        assert found[0].source == "partner-x" and found[0].bank_name == "known"
        # Another organisation never sees this organisation's banks.
        assert match_signals(s, matcher, OTHER, [query]) == []
        # A tighter threshold excludes it.
        assert match_signals(s, matcher, ORG, [query], thresholds={"pdq": 19}) == []

    fresh = random_pdq(rng)
    new_item = _add(session_factory, "known", [SignalInput("pdq", fresh)])
    assert matcher.sync() == 1
    with session_factory() as s:
        assert [m.item_id for m in match_signals(s, matcher, ORG, [Signal("pdq", fresh)])] == [
            new_item
        ]
        service.remove_item(s, service.get_item(s, ORG, new_item))
        s.commit()
    matcher.sync()
    with session_factory() as s:
        assert match_signals(s, matcher, ORG, [Signal("pdq", fresh)]) == []


def test_unreliable_query_signals_are_skipped(session_factory, tmp_path):
    value = random_pdq(random.Random(1))
    _add(session_factory, "b", [SignalInput("pdq", value)])
    matcher = Matcher(session_factory).load()
    with session_factory() as s:
        weak = Signal("pdq", value, quality=10, meta={"unreliable": True})
        assert match_signals(s, matcher, ORG, [weak]) == []
        assert len(match_signals(s, matcher, ORG, [Signal("pdq", value, quality=90)])) == 1


def test_exact_types_and_disabled_or_revoked_banks(session_factory):
    digest = hashlib.md5(b"file").hexdigest()
    item = _add(session_factory, "files", [SignalInput("md5", digest)])
    matcher = Matcher(session_factory).load()
    with session_factory() as s:
        assert len(match_signals(s, matcher, ORG, [Signal("md5", digest)])) == 1
        bank = service.get_bank(s, ORG, "files")
        service.update_bank(s, bank, matching_enabled=False)
        s.commit()
        matcher.sync()  # metadata edits reach the matcher through the log, like signals
        assert match_signals(s, matcher, ORG, [Signal("md5", digest)]) == []
        service.update_bank(s, bank, matching_enabled=True)
        service.revoke_item(s, service.get_item(s, ORG, item))
        s.commit()
    matcher.sync()
    with session_factory() as s:
        assert match_signals(s, matcher, ORG, [Signal("md5", digest)]) == []


def test_snapshot_then_replay_only_the_tail(session_factory, tmp_path):
    rng = random.Random(3)
    first = [random_pdq(rng) for _ in range(50)]
    for value in first:
        _add(session_factory, "b", [SignalInput("pdq", value)])
    matcher = Matcher(session_factory, tmp_path / "idx").load()
    matcher.save()
    seq_at_snapshot = matcher.applied_seq

    later = random_pdq(rng)
    _add(session_factory, "b", [SignalInput("pdq", later)])
    restarted = Matcher(session_factory, tmp_path / "idx")
    restarted.load()
    assert restarted.applied_seq == seq_at_snapshot + 1
    assert restarted.status()["indexes"]["pdq"] == 51
    with session_factory() as s:
        for value in (first[0], later):
            assert len(match_signals(s, restarted, ORG, [Signal("pdq", value)])) == 1


def test_late_committed_sequence_numbers_are_not_skipped(session_factory):
    """A change whose sequence number is below one already applied (a late commit) still lands."""
    rng = random.Random(5)
    a, b, c = (random_pdq(rng) for _ in range(3))
    item_a = _add(session_factory, "b", [SignalInput("pdq", a)])
    matcher = Matcher(session_factory).load()
    with session_factory.begin() as s:
        base = s.scalar(select(SignalChange.seq).order_by(SignalChange.seq.desc()).limit(1))
        sig_id = service.get_item(s, ORG, item_a).signals[0].id
        s.add(SignalChange(seq=base + 2, signal_id=sig_id + 1000, type="pdq", value=c, op="add"))
    matcher.sync()
    assert matcher.status()["pending_holes"] == 1
    with session_factory.begin() as s:
        s.add(SignalChange(seq=base + 1, signal_id=sig_id + 1001, type="pdq", value=b, op="add"))
    matcher.sync()
    assert matcher.status()["pending_holes"] == 0
    hits = {h.signal_id for h in matcher.query([Signal("pdq", b), Signal("pdq", c)])}
    assert hits == {sig_id + 1000, sig_id + 1001}


def test_a_malformed_logged_value_is_skipped_not_wedging_the_log(session_factory):
    """A bad value in the change log (e.g. written by an old version) is counted and skipped;
    the good changes around it still land and the log position moves on."""
    rng = random.Random(9)
    good = random_pdq(rng)
    _add(session_factory, "b", [SignalInput("pdq", good)])
    with session_factory.begin() as s:
        s.add(SignalChange(signal_id=999_001, type="pdq", value="not-a-hash", op="add"))
    later = random_pdq(rng)
    _add(session_factory, "b", [SignalInput("pdq", later)])
    matcher = Matcher(session_factory).load()
    status = matcher.status()
    assert status["rejected_changes"] == 1 and status["indexes"]["pdq"] == 2
    assert matcher.sync() == 0  # nothing retried forever
    assert {h.signal_id for h in matcher.query([Signal("pdq", later)])}


def test_cached_metadata_follows_bank_and_item_edits(session_factory, tmp_path):
    """A hit's bank/item metadata is cached per process; every edit reaches the next match
    through the change log (``meta`` entries), in this matcher and in a second one."""
    from countersignal.banks.models import Label
    from countersignal.index.matcher import cached_matches

    rng = random.Random(11)
    value = random_pdq(rng)
    item_id = _add(session_factory, "edits", [SignalInput("pdq", value)],
                   labels=[LabelInput("tier", "crisis")], source="first")
    matcher = Matcher(session_factory, tmp_path / "a").load()
    replica = Matcher(session_factory, tmp_path / "b").load()
    query = [Signal("pdq", value)]

    def current(m: Matcher):
        with session_factory() as s:
            return match_signals(s, m, ORG, query)

    first = current(matcher)
    assert [(r.bank_name, r.tlp, r.source) for r in first] == [("edits", "AMBER", "first")]
    hits = matcher.query(query)
    assert cached_matches(matcher, ORG, hits) == first  # now answered without the database
    assert cached_matches(matcher, OTHER, hits) == []  # the cache never crosses organisations

    with session_factory.begin() as s:
        bank = service.get_bank(s, ORG, "edits")
        service.update_bank(s, bank, name="renamed", tlp="RED")
    for m in (matcher, replica):
        current(m)  # fills the replica's cache with pre-sync rows if it were to trust them
        m.sync()
        assert [(r.bank_name, r.tlp) for r in current(m)] == [("renamed", "RED")]

    with session_factory.begin() as s:  # labels replaced the way a partner update does
        s.query(Label).filter(Label.item_id == item_id).delete()
        s.add(Label(item_id=item_id, kind="behaviour", value="recruitment"))
    for m in (matcher, replica):
        m.sync()
        assert [r.labels for r in current(m)] == [
            [{"kind": "behaviour", "value": "recruitment", "reference": None}]
        ]

    with session_factory.begin() as s:
        service.update_bank(s, service.get_bank(s, ORG, "renamed"), matching_enabled=False)
    for m in (matcher, replica):
        m.sync()
        assert current(m) == []
        assert cached_matches(m, ORG, m.query(query)) in (None, [])


def test_adding_items_does_not_log_metadata_changes(session_factory):
    rng = random.Random(12)
    for n in range(3):
        _add(session_factory, "plain", [SignalInput("pdq", random_pdq(rng))],
             labels=[LabelInput("tier", "crisis")], external_id=f"p{n}")
    with session_factory() as s:
        ops = s.scalars(select(SignalChange.op)).all()
    assert ops == ["add", "add", "add"]


def test_snapshot_files_are_written_without_holding_up_syncs(session_factory, tmp_path):
    """Matcher.save captures state under its lock but writes outside it: a slow write (a 100M
    index takes tens of seconds) must not stall syncs, i.e. new signals and readiness."""
    import threading

    from countersignal.index.exact import ExactIndex

    writing, release = threading.Event(), threading.Event()

    class SlowToWrite(ExactIndex):
        def snapshot_writer(self, path):
            captured = super().snapshot_writer(path)

            def write():
                writing.set()
                release.wait(30)
                captured()

            return write

    rng = random.Random(5)
    _add(session_factory, "slow", [SignalInput("pdq", random_pdq(rng))])
    matcher = Matcher(session_factory, tmp_path / "idx").load()
    matcher._indexes["slow"] = SlowToWrite()
    saver = threading.Thread(target=matcher.save)
    saver.start()
    assert writing.wait(30)
    fresh = random_pdq(rng)
    _add(session_factory, "slow", [SignalInput("pdq", fresh)])
    assert matcher.sync() == 1  # would block until the write ends if save held the lock
    with session_factory() as s:
        assert len(match_signals(s, matcher, ORG, [Signal("pdq", fresh)])) == 1
    release.set()
    saver.join(30)
    restarted = Matcher(session_factory, tmp_path / "idx").load()
    assert restarted.status()["indexes"]["pdq"] == 2  # snapshot of 1 plus the replayed tail


def test_pruning_the_change_log_keeps_restarts_and_numbering_whole(session_factory, tmp_path):
    from countersignal.index.matcher import prune_change_log

    rng = random.Random(9)
    values = [random_pdq(rng) for _ in range(6)]
    for value in values[:4]:
        _add(session_factory, "log", [SignalInput("pdq", value)])
    matcher = Matcher(session_factory, tmp_path / "idx").load()
    assert matcher.snapshot_position() is None
    matcher.save()
    position = matcher.snapshot_position()
    assert position == matcher.applied_seq + 1
    for value in values[4:]:
        _add(session_factory, "log", [SignalInput("pdq", value)])

    assert prune_change_log(session_factory, below=position) == 4
    restarted = Matcher(session_factory, tmp_path / "idx").load()  # snapshot + tail
    assert restarted.status()["indexes"]["pdq"] == 6

    # Everything but the newest entry may go; its number is never handed out again.
    with session_factory() as s:
        newest = s.scalar(select(SignalChange.seq).order_by(SignalChange.seq.desc()).limit(1))
    assert prune_change_log(session_factory, below=10**9) == 1
    _add(session_factory, "log", [SignalInput("pdq", random_pdq(rng))])
    with session_factory() as s:
        assert s.scalars(select(SignalChange.seq).order_by(SignalChange.seq)).all() == [
            newest, newest + 1
        ]
    assert restarted.sync() == 1 and restarted.status()["indexes"]["pdq"] == 7
