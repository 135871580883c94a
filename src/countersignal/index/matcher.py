"""The matcher: one index per signal type, kept current from the signal change log.

Every bank write appends to ``signal_changes`` in its own transaction; ``Matcher.sync`` applies
the log tail to the in-memory indexes, so a new signal is matchable at once in this process and
within one poll in any other — no rebuilds. A snapshot stores each index plus the last sequence
number applied, so a restart loads it and replays only the tail.

PostgreSQL hands out sequence numbers at insert time, not commit time, so a transaction that
commits late can land *behind* rows already applied. Missing numbers ("holes") are therefore
re-read for ``HOLE_PATIENCE_S`` seconds before being given up as rolled back.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from countersignal.banks.models import META_OP, Bank, BankItem, Label, Signal, SignalChange
from countersignal.errors import CountersignalError, InvalidInput
from countersignal.index.base import SignalIndex
from countersignal.signals import Signal as ContentSignal
from countersignal.signals import get_signal_type

log = logging.getLogger("countersignal.index")

HOLE_PATIENCE_S = 300.0
SYNC_BATCH = 20_000
MANIFEST = "matcher.json"
LOCK_FILE = ".lock"


def index_class(signal_type: str) -> type[SignalIndex]:
    """The index kind for a signal type: distance types get a range index, the rest exact maps."""
    from countersignal.index.exact import ExactIndex
    from countersignal.index.pdq import PDQIndex
    from countersignal.index.text import TextNearIndex
    from countersignal.index.video import VideoIndex

    special = {"pdq": PDQIndex, "vpdq": VideoIndex, "text_near": TextNearIndex}
    return special.get(signal_type, ExactIndex)


@dataclass(frozen=True)
class IndexKind:
    """How the matcher makes an empty index of a type and loads its snapshot (the default:
    :func:`index_class`; a sharded PDQ index when ``COUNTERSIGNAL_INDEX_PDQ_SHARDS`` is set)."""

    new: Callable[[], SignalIndex]
    load: Callable[[Path], SignalIndex]


def default_kind(signal_type: str) -> IndexKind:
    cls = index_class(signal_type)
    return IndexKind(new=cls, load=cls.load)


@dataclass(frozen=True)
class IndexHit:
    signal_id: int
    signal_type: str
    distance: float
    query_value: str
    extra: dict = field(default_factory=dict)


class Matcher:
    """Per-signal-type indexes over every bank's signals in one database."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        snapshot_dir: Path | None = None,
        *,
        kinds: dict[str, IndexKind] | None = None,
    ) -> None:
        self._factory = factory
        self._snapshot_dir = snapshot_dir
        self._kinds = kinds or {}
        self._indexes: dict[str, SignalIndex] = {}
        self._lock = threading.RLock()
        self.applied_seq = 0
        self._holes: dict[int, float] = {}
        self.ready = False
        self.last_sync = 0.0
        self.rejected = 0
        self.metadata = ItemMetadata()

    # --- lifecycle ---------------------------------------------------------------------

    def load(self) -> Matcher:
        """Load the snapshot if there is a usable one, then replay the log tail."""
        with self._lock:
            with self._snapshot_lock(exclusive=False):  # files are memory-mapped: safe after
                manifest = self._read_manifest()
                if manifest and not self._load_indexes(manifest["types"]):
                    manifest = None
            if manifest:
                self.applied_seq = int(manifest["seq"])
                self._holes = {int(s): time.monotonic() for s in manifest.get("holes", [])}
            self.sync()
            # A first sync arrives in log-sized batches: merge them once, off the query path.
            for index in self._indexes.values():
                compact = getattr(index, "compact", None)
                if compact is not None:
                    compact(background=True)
            self.ready = True
        return self

    def _kind(self, signal_type: str) -> IndexKind:
        return self._kinds.get(signal_type) or default_kind(signal_type)

    def _load_indexes(self, types: Sequence[str]) -> bool:
        """Every type's snapshot, or none: one that does not load (e.g. written for a single
        index when the configuration now asks for shards) means replaying the whole log."""
        try:
            for stype in types:
                self._indexes[stype] = self._kind(stype).load(self._snapshot_path(stype))
        except (CountersignalError, OSError, ValueError) as exc:
            log.warning("index snapshot unusable (%s); replaying the whole change log", exc)
            self._indexes = {}
            return False
        return True

    def _read_manifest(self) -> dict | None:
        if self._snapshot_dir is None:
            return None
        path = self._snapshot_dir / MANIFEST
        if not path.is_file():
            return None
        manifest = json.loads(path.read_text())
        if not all(self._snapshot_path(t).exists() for t in manifest["types"]):
            return None
        return manifest

    def _snapshot_path(self, stype: str) -> Path:
        assert self._snapshot_dir is not None
        return self._snapshot_dir / f"{stype}.idx"

    @contextmanager
    def _snapshot_lock(self, *, exclusive: bool) -> Iterator[None]:
        """A lock on the snapshot folder across processes: replicas on one host (``serve
        --workers N``) share it, and index files and manifest must come from one writer."""
        if self._snapshot_dir is None or not self._snapshot_dir.is_dir():
            yield
            return
        with open(self._snapshot_dir / LOCK_FILE, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def save(self) -> Path:
        """Write every index, then the manifest naming the sequence number they reflect.

        Skipped when the folder already holds a snapshot further along the log (written by
        another replica sharing it): overwriting it would only lengthen the next replay.
        """
        if self._snapshot_dir is None:
            raise InvalidInput("this matcher has no snapshot directory")
        self._snapshot_dir.mkdir(parents=True, exist_ok=True)
        path = self._snapshot_dir / MANIFEST
        # File lock first, then the matcher's lock only while the state is captured: the big
        # files are written without holding up syncs (and so writes and readiness). ``load``
        # takes them the other way round, but runs before a matcher is shared.
        with self._snapshot_lock(exclusive=True):
            with self._lock:
                current = self._read_manifest()
                if current is not None and int(current["seq"]) > self.applied_seq:
                    return path
                writers = [
                    index.snapshot_writer(self._snapshot_path(stype))
                    for stype, index in self._indexes.items()
                ]
                manifest = {
                    "seq": self.applied_seq,
                    "holes": sorted(self._holes),
                    "types": sorted(self._indexes),
                    "sizes": {t: len(i) for t, i in self._indexes.items()},
                }
            for write in writers:
                write()
            tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(manifest))
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        return path

    def snapshot_position(self) -> int | None:
        """The lowest change-log position a restart from this folder's snapshot reads again
        (its sequence number, or an earlier hole it still waits for); ``None`` if none."""
        if self._snapshot_dir is None:
            return None
        with self._snapshot_lock(exclusive=False):
            manifest = self._read_manifest()
        if manifest is None:
            return None
        return min([int(manifest["seq"]) + 1, *(int(h) for h in manifest.get("holes", []))])

    # --- keeping current -------------------------------------------------------------------

    def sync(self) -> int:
        """Apply every change logged since the last sync; returns how many were applied."""
        applied = 0
        with self._lock, self._factory() as session:
            while True:
                rows, seq, holes = self._fetch_changes(session)
                if not rows:
                    self._holes = holes
                    break
                # Position moves only after the changes are in: a failure is retried next sync.
                self._apply(rows)
                self.applied_seq, self._holes = seq, holes
                applied += len(rows)
                if len(rows) < SYNC_BATCH:
                    break
            self.last_sync = time.monotonic()
        return applied

    def _fetch_changes(self, session: Session) -> tuple[list[SignalChange], int, dict[int, float]]:
        """The next changes, and the log position and holes once they are applied."""
        now = time.monotonic()
        holes = {s: t for s, t in self._holes.items() if now - t < HOLE_PATIENCE_S}
        condition = SignalChange.seq > self.applied_seq
        if holes:
            condition = or_(condition, SignalChange.seq.in_(list(holes)))
        rows = list(
            session.scalars(
                select(SignalChange).where(condition).order_by(SignalChange.seq).limit(SYNC_BATCH)
            )
        )
        seq = self.applied_seq
        for row in rows:
            holes.pop(row.seq, None)
            if row.seq > seq:
                holes.update({s: now for s in range(seq + 1, row.seq)})
                seq = row.seq
        return rows, seq, holes

    def _apply(self, rows: Sequence[SignalChange]) -> None:
        # Group consecutive runs of the same (type, op) so indexes get batched calls in order.
        run: list[SignalChange] = []
        for row in rows:
            if run and (run[-1].type, run[-1].op) != (row.type, row.op):
                self._apply_run(run)
                run = []
            run.append(row)
        if run:
            self._apply_run(run)

    def _apply_run(self, run: list[SignalChange]) -> None:
        stype, op = run[0].type, run[0].op
        if op == META_OP:
            self.metadata.clear()
            return
        index = self._indexes.get(stype)
        if index is None:
            index = self._indexes[stype] = self._kind(stype).new()
        if op == "remove":
            removed = [r.signal_id for r in run]
            index.remove(removed)
            self.metadata.discard(removed)
            return
        try:
            index.add([r.signal_id for r in run], [r.value for r in run])
        except CountersignalError:
            # One malformed value must not wedge the log: add the rest, skip and count it.
            for row in run:
                try:
                    index.add([row.signal_id], [row.value])
                except CountersignalError as exc:
                    self.rejected += 1
                    log.warning("change %s (%s) skipped: %s", row.seq, row.type, exc.message)

    # --- querying ---------------------------------------------------------------------------

    def status(self) -> dict:
        with self._lock:
            return {
                "ready": self.ready,
                "applied_seq": self.applied_seq,
                "pending_holes": len(self._holes),
                "rejected_changes": self.rejected,
                "indexes": {t: len(i) for t, i in sorted(self._indexes.items())},
            }

    def query(
        self, signals: Sequence[ContentSignal], thresholds: dict[str, float] | None = None
    ) -> list[IndexHit]:
        """Every stored signal within its type's threshold of any of ``signals``."""
        thresholds = thresholds or {}
        hits: list[IndexHit] = []
        for sig in signals:
            index = self._indexes.get(sig.type)
            if index is None or sig.meta.get("unreliable"):
                continue
            stype = get_signal_type(sig.type)
            threshold = thresholds.get(sig.type, stype.default_threshold)
            for found in index.query(sig.value, threshold):
                signal_id, distance, *rest = found
                extra = rest[0] if rest and isinstance(rest[0], dict) else {}
                hits.append(IndexHit(int(signal_id), sig.type, distance, sig.value, extra))
        return hits


# --- service: matches with their bank metadata ----------------------------------------------


@dataclass
class MatchResult:
    signal_id: int
    signal_type: str
    signal_value: str
    distance: float
    query_value: str
    bank_id: str
    bank_name: str
    bank_trusted: bool
    item_id: str
    external_id: str | None
    source: str
    source_ref: str | None
    labels: list[dict]
    tlp: str
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class HitMetadata(NamedTuple):
    """What a match reports about a stored signal's item and bank, for any organisation.

    The cache keeps each as a plain tuple (strings, flags, tuples): the cyclic GC stops
    tracking exact tuples of such values, so tens of thousands of cached entries add nothing to
    its full collections (tracked entries made each one walk the cache: a p99 stall)."""

    organisation_id: str
    matching_enabled: bool
    revoked: bool
    signal_type: str
    signal_value: str
    item_id: str
    external_id: str | None
    source: str
    source_ref: str | None
    item_tlp: str | None
    bank_id: str
    bank_name: str
    bank_trusted: bool
    bank_tlp: str
    labels: tuple[tuple[str, str, str | None], ...]


class ItemMetadata:
    """Per-process cache of :class:`HitMetadata` by signal id, so that a lookup that finds a
    known signal needs no database read (the API's hot path).

    Kept exact by the change log: ``meta`` changes (any edit of a bank's or an item's metadata,
    logged by a flush hook in ``banks.models``) clear it and removals drop their ids, in the
    same ``Matcher.sync`` that keeps the indexes current. Entries read from the database are
    stored only if no clear happened while they were read.
    """

    MAX_ENTRIES = 50_000  # ~0.5-1 KB each; repeated hits (viral copies) are what it serves

    def __init__(self) -> None:
        self._entries: dict[int, tuple] = {}  # plain tuples: see HitMetadata
        self._lock = threading.Lock()
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, ids) -> tuple[dict[int, HitMetadata], list[int]]:
        """(cached entries, ids not cached)."""
        found, missing = {}, []
        for signal_id in ids:
            entry = self._entries.get(signal_id)
            if entry is None:
                missing.append(signal_id)
            else:
                found[signal_id] = HitMetadata._make(entry)
        return found, missing

    def store(self, generation: int, entries: dict[int, HitMetadata]) -> None:
        with self._lock:
            if generation != self.generation:
                return  # metadata changed while these rows were read: they may be stale
            if len(self._entries) + len(entries) > self.MAX_ENTRIES:
                self._entries = {}
            self._entries.update((k, tuple(v)) for k, v in entries.items())

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries = {}

    def discard(self, ids) -> None:
        with self._lock:
            for signal_id in ids:
                self._entries.pop(signal_id, None)


def _read_metadata(session: Session, cache: ItemMetadata, ids: list[int]) -> dict[int, HitMetadata]:
    """One Core query (rows joined with their labels) for signals the cache does not hold; on
    the session's connection, bypassing the ORM: this runs for every new hit."""
    generation = cache.generation
    rows = session.connection().execute(_METADATA_QUERY, {"ids": ids}).all()
    labels: dict[int, list[tuple[str, str, str | None]]] = {}
    for row in rows:
        if row.label_kind is not None:
            labels.setdefault(row.signal_id, []).append(
                (row.label_kind, row.label_value, row.label_reference)
            )
    found = {
        row.signal_id: HitMetadata(
            organisation_id=row.organisation_id,
            matching_enabled=bool(row.matching_enabled),
            revoked=row.revoked_at is not None,
            signal_type=row.type,
            signal_value=row.value,
            item_id=row.item_id,
            external_id=row.external_id,
            source=row.source,
            source_ref=row.source_ref,
            item_tlp=row.item_tlp,
            bank_id=row.bank_id,
            bank_name=row.bank_name,
            bank_trusted=bool(row.trusted),
            bank_tlp=row.bank_tlp,
            labels=tuple(labels.get(row.signal_id, ())),
        )
        for row in rows
    }
    cache.store(generation, found)
    return found


_METADATA_QUERY = (
    select(
        Signal.id.label("signal_id"), Bank.organisation_id, Bank.matching_enabled,
        BankItem.revoked_at, Signal.type, Signal.value, BankItem.id.label("item_id"),
        BankItem.external_id, BankItem.source, BankItem.source_ref,
        BankItem.tlp.label("item_tlp"), Bank.id.label("bank_id"), Bank.name.label("bank_name"),
        Bank.trusted, Bank.tlp.label("bank_tlp"), Label.kind.label("label_kind"),
        Label.value.label("label_value"), Label.reference.label("label_reference"),
    )
    .join(BankItem, BankItem.id == Signal.item_id)
    .join(Bank, Bank.id == Signal.bank_id)
    .outerjoin(Label, Label.item_id == BankItem.id)
    .where(Signal.id.in_(bindparam("ids", expanding=True)))
    .order_by(Signal.id, Label.id)
)


def _best_hits(hits: Sequence[IndexHit]) -> dict[int, IndexHit]:
    best: dict[int, IndexHit] = {}
    for hit in hits:
        if hit.signal_id not in best or hit.distance < best[hit.signal_id].distance:
            best[hit.signal_id] = hit
    return best


def _results(
    best: dict[int, IndexHit],
    metadata: dict[int, HitMetadata],
    organisation_id: str,
    bank_ids: Sequence[str] | None,
) -> list[MatchResult]:
    """Only this organisation's enabled banks and unrevoked items (the filter the API's
    organisation scoping relies on: the cache holds every organisation's signals)."""
    results = []
    for signal_id, hit in best.items():
        meta = metadata.get(signal_id)
        if (
            meta is None
            or meta.organisation_id != organisation_id
            or not meta.matching_enabled
            or meta.revoked
            or (bank_ids is not None and meta.bank_id not in bank_ids)
        ):
            continue
        results.append(
            MatchResult(
                signal_id=signal_id,
                signal_type=meta.signal_type,
                signal_value=meta.signal_value,
                distance=hit.distance,
                query_value=hit.query_value,
                bank_id=meta.bank_id,
                bank_name=meta.bank_name,
                bank_trusted=meta.bank_trusted,
                item_id=meta.item_id,
                external_id=meta.external_id,
                source=meta.source,
                source_ref=meta.source_ref,
                labels=[{"kind": k, "value": v, "reference": r} for k, v, r in meta.labels],
                tlp=meta.item_tlp or meta.bank_tlp,
                extra=hit.extra,
            )
        )
    results.sort(key=lambda r: (r.distance, r.bank_name, r.signal_id))
    return results


def cached_matches(
    matcher: Matcher,
    organisation_id: str,
    hits: Sequence[IndexHit],
    *,
    bank_ids: Sequence[str] | None = None,
) -> list[MatchResult] | None:
    """The matches for ``hits`` when every one's metadata is cached; ``None`` when the
    database must be read (then call :func:`match_signals`)."""
    best = _best_hits(hits)
    found, missing = matcher.metadata.lookup(best)
    if missing:
        return None
    return _results(best, found, organisation_id, bank_ids)


def match_signals(
    session: Session,
    matcher: Matcher,
    organisation_id: str,
    signals: Sequence[ContentSignal],
    *,
    thresholds: dict[str, float] | None = None,
    bank_ids: Sequence[str] | None = None,
    hits: Sequence[IndexHit] | None = None,
) -> list[MatchResult]:
    """Matches among this organisation's enabled banks, with labels and provenance.

    ``hits``: what ``matcher.query(signals, thresholds)`` returned, when the caller has it.
    """
    if hits is None:
        hits = matcher.query(signals, thresholds)
    if not hits:
        return []
    best = _best_hits(hits)
    found, missing = matcher.metadata.lookup(best)
    if missing:
        found.update(_read_metadata(session, matcher.metadata, missing))
    return _results(best, found, organisation_id, bank_ids)


def prune_change_log(factory: sessionmaker[Session], *, below: int) -> int:
    """Delete change-log entries numbered below ``below``; returns how many went.

    Safe below every replica's :meth:`Matcher.snapshot_position` (a replica restarting from an
    older snapshot would miss what was pruned). The newest entry is always kept: SQLite hands
    the number of a deleted last row out again, and replicas would skip the reused number.
    """
    with factory() as session, session.begin():
        newest = session.scalar(select(func.max(SignalChange.seq)))
        if newest is None:
            return 0
        result = session.execute(
            delete(SignalChange).where(SignalChange.seq < min(below, newest))
        )
        return result.rowcount or 0
