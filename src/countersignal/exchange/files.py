"""File importers and exporters beyond the banks' CSV and JSON Lines (``banks.io``, reused):

* **ThreatExchange local file** — python-threatexchange's ``LocalFileSignalExchangeAPI``
  format: one ``<signal_type> <value>`` per line (or bare values with a default type), with
  pytx's type names (``pdq``, ``video_md5``, ``url``, ...).
* **Hash list** — the TCAP / GIFCT-style list: JSON ``{"count", "next", "checkpoint",
  "results": [{"id", "algorithm", "hash_digest", "labels", "ideology", "file_type",
  "deleted", "updated_on", "created_on"}]}`` (or JSON Lines of results). ``deleted`` entries
  are tombstones that retract the item; imports keep a checkpoint (``"<updated_on>,<id>"``, as
  TCAP's API does) so a re-import only applies what is new.

The TLP/local-only policy applies to exports exactly as to TAXII (``policy.withheld_reason``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.banks.io import ImportReport, iter_bank_items
from countersignal.banks.models import Bank, BankItem
from countersignal.banks.service import ItemInput, LabelInput, SignalInput, add_item, revoke_item
from countersignal.errors import CountersignalError, InvalidInput
from countersignal.exchange.models import FeedCheckpoint, ItemRef
from countersignal.exchange.policy import local_only_labels, withheld_reason
from countersignal.exchange.stix import parse_label

MAX_LINE = 1024 * 1024
# python-threatexchange type names → ours (identical where pytx has the type).
PYTX_TYPES = {"pdq": "pdq", "video_md5": "video_md5", "url": "url", "vpdq": "vpdq"}
HASHLIST_ALGORITHMS = {"PDQ": "pdq", "MD5": "md5", "SHA256": "sha256", "SHA-256": "sha256"}
VIDEO_FILE_TYPES = frozenset({"mov", "m4v", "mp4", "webm", "mkv", "avi"})


def _exportable(session: Session, bank: Bank) -> Iterator[BankItem]:
    """Items of ``bank`` that the sharing policy lets leave (for any partner)."""
    labels = local_only_labels(session, bank.organisation_id)
    for item in iter_bank_items(session, bank):
        ref = session.get(ItemRef, item.id)
        if withheld_reason(item, bank, ref, None, labels) is None:
            yield item


# --- ThreatExchange local file -------------------------------------------------------------


def import_threatexchange_file(
    session: Session,
    bank: Bank,
    stream: IO[bytes],
    *,
    default_type: str | None = None,
    source: str = "threatexchange-file",
) -> ImportReport:
    """Each line ``<pytx type> <value>`` (or a bare value of ``default_type``) → one item."""
    report = ImportReport()
    for number, raw in enumerate(stream, start=1):
        if len(raw) > MAX_LINE:
            report.errors.append((number, "line too long"))
            continue
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            report.errors.append((number, "line is not UTF-8"))
            continue
        if not line or line.startswith("#"):
            continue
        stype, value = default_type, line
        if default_type is None:
            stype, _, value = line.partition(" ")
        ours = PYTX_TYPES.get(stype or "", stype)
        try:
            with session.begin_nested():
                add_item(
                    session,
                    bank,
                    ItemInput(signals=[SignalInput(ours or "", value.strip())], source=source),
                )
        except CountersignalError as exc:
            report.errors.append((number, exc.message))
            continue
        report.items_added += 1
        report.signals_added += 1
    session.flush()
    return report


def export_threatexchange_file(session: Session, bank: Bank, out: IO[str]) -> int:
    """Write the bank's shareable signals of pytx-known types; returns lines written."""
    ours_to_pytx = {v: k for k, v in PYTX_TYPES.items()}
    lines = 0
    for item in _exportable(session, bank):
        for signal in item.signals:
            if signal.type in ours_to_pytx:
                out.write(f"{ours_to_pytx[signal.type]} {signal.value}\n")
                lines += 1
    return lines


# --- TCAP / GIFCT-style hash list ----------------------------------------------------------


@dataclass(frozen=True)
class HashEntry:
    id: str
    signal_type: str
    value: str
    labels: list[LabelInput]
    deleted: bool
    updated_on: float

    @property
    def checkpoint(self) -> str:
        return f"{self.updated_on!r},{self.id}"


def _position(checkpoint: str | None) -> tuple[float, str]:
    if not checkpoint:
        return (float("-inf"), "")
    when, _, ident = checkpoint.partition(",")
    try:
        return (float(when), ident)
    except ValueError:
        raise InvalidInput(f"checkpoint {checkpoint!r} is not '<updated_on>,<id>'") from None


def parse_hash_entry(obj: object) -> HashEntry:
    if not isinstance(obj, dict):
        raise InvalidInput("each entry must be a JSON object")
    deleted = bool(obj.get("deleted"))
    algorithm = str(obj.get("algorithm") or "").upper()
    stype = HASHLIST_ALGORITHMS.get(algorithm, "")
    if not stype and not deleted:  # a tombstone is found by id; it needs no hash
        raise InvalidInput(f"unsupported algorithm {algorithm!r}")
    if stype == "md5" and str(obj.get("file_type", "")).lower() in VIDEO_FILE_TYPES:
        stype = "video_md5"
    labels = obj.get("labels") or []
    if not isinstance(labels, list):
        raise InvalidInput("'labels' must be a list")
    parsed = [parse_label(str(x)) for x in labels][:100]
    if obj.get("ideology"):
        parsed.append(LabelInput("other", f"ideology:{obj['ideology']}"[:300]))
    try:
        updated = float(obj.get("updated_on", 0))
    except (TypeError, ValueError):
        raise InvalidInput("'updated_on' must be a number (seconds since the epoch)") from None
    ident, value = obj.get("id"), obj.get("hash_digest") or ""
    if ident is None or not isinstance(value, str) or not (value or deleted):
        raise InvalidInput("'id' and 'hash_digest' are required")
    return HashEntry(str(ident), stype, value, parsed, deleted, updated)


def iter_hash_list(stream: IO[bytes]) -> Iterator[tuple[int, HashEntry | InvalidInput]]:
    """Entries of a hash list page (JSON with ``results``) or of JSON Lines."""
    data = stream.read()
    try:
        document = json.loads(data)
        entries = document.get("results") if isinstance(document, dict) else document
        if not isinstance(entries, list):
            raise InvalidInput("a hash list needs a 'results' list")
        numbered = list(enumerate(entries, start=1))
    except (ValueError, RecursionError):  # not one JSON document (or nested past all reason)
        numbered = []
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except (ValueError, RecursionError) as exc:
                yield number, InvalidInput(f"invalid JSON: {exc}")
    for number, obj in numbered:
        try:
            yield number, parse_hash_entry(obj)
        except InvalidInput as exc:
            yield number, exc


def import_hash_list(
    session: Session, bank: Bank, stream: IO[bytes], *, feed: str = "hashlist"
) -> ImportReport:
    """Apply a hash list in (updated_on, id) order from the bank's checkpoint for ``feed``."""
    report = ImportReport()
    state = session.get(FeedCheckpoint, (bank.id, feed))
    start = _position(state.checkpoint if state else None)
    entries = []
    for number, parsed in iter_hash_list(stream):
        if isinstance(parsed, InvalidInput):
            report.errors.append((number, parsed.message))
        elif (parsed.updated_on, parsed.id) > start:
            entries.append((number, parsed))
    entries.sort(key=lambda e: (e[1].updated_on, e[1].id))
    for number, entry in entries:
        try:
            with session.begin_nested():
                _apply_hash_entry(session, bank, entry, feed, report)
        except CountersignalError as exc:
            report.errors.append((number, exc.message))
    if entries:
        if state is None:
            state = FeedCheckpoint(bank_id=bank.id, feed=feed, checkpoint="")
            session.add(state)
        state.checkpoint = entries[-1][1].checkpoint
    session.flush()
    return report


def _apply_hash_entry(session, bank, entry: HashEntry, feed: str, report: ImportReport) -> None:
    source_ref = f"{feed}:{entry.id}"
    existing = session.scalars(
        select(BankItem).where(BankItem.bank_id == bank.id, BankItem.source_ref == source_ref)
    ).all()
    for item in existing:
        if item.revoked_at is None:
            revoke_item(session, item)
    if entry.deleted:
        return
    row = add_item(
        session,
        bank,
        ItemInput(
            signals=[SignalInput(entry.signal_type, entry.value)],
            labels=entry.labels,
            external_id=entry.id,
            source=feed,
            source_ref=source_ref,
        ),
    )
    report.items_added += 1
    report.signals_added += len(row.signals)


def export_hash_list(
    session: Session, bank: Bank, *, after: str | None = None, limit: int = 10_000
) -> dict:
    """One page of the bank as a hash list, from checkpoint ``after``; revoked items appear as
    ``deleted`` entries so a consumer drops them."""
    start = _position(after)
    entries = []
    for item in _exportable(session, bank):
        updated = item.updated_at.timestamp()
        if (updated, item.id) <= start:
            continue
        labels = [str(LabelInput(lb.kind, lb.value, lb.reference)) for lb in item.labels]
        signals = item.signals or [None]
        for signal in signals:
            algorithm = {"pdq": "PDQ", "md5": "MD5", "video_md5": "MD5", "sha256": "SHA256"}
            if signal is not None and signal.type not in algorithm:
                continue
            entries.append(
                {
                    "id": item.id,
                    "algorithm": algorithm[signal.type] if signal else None,
                    "hash_digest": signal.value if signal else None,
                    "file_type": "mp4" if signal and signal.type == "video_md5" else None,
                    "labels": labels,
                    "deleted": item.revoked_at is not None,
                    "updated_on": updated,
                    "created_on": item.created_at.astimezone(UTC).isoformat(),
                }
            )
    entries.sort(key=lambda e: (e["updated_on"], e["id"]))
    page = entries[:limit]
    checkpoint = f"{page[-1]['updated_on']!r},{page[-1]['id']}" if page else after or ""
    return {
        "count": len(page),
        "next": None,
        "checkpoint": checkpoint,
        "more": len(entries) > limit,
        "generated_at": datetime.now(UTC).isoformat(),
        "results": page,
    }
