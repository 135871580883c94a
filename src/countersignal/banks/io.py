"""Bank import and export: CSV and JSON Lines.

JSON Lines: one item per line::

    {"external_id": "x1", "signals": [{"type": "pdq", "value": "..."}],
     "labels": [{"kind": "behaviour", "value": "glorification"}], "source": "...", "tlp": "AMBER"}

A label may also be written as in CSV and on the command line: ``"behaviour:glorification"``.

CSV: one signal per row with columns ``signal_type, signal_value`` and optional ``external_id,
labels`` (``kind:value[@ref]`` separated by ``;``), ``source, source_ref, tlp, note``. Rows that
share a non-empty ``external_id`` become one item.

A bad line or row is reported with its number and skipped; the rest of the file still loads.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.banks.models import Bank, BankItem
from countersignal.banks.service import ItemInput, LabelInput, SignalInput, add_item, list_items
from countersignal.errors import CountersignalError, InvalidInput

CSV_FIELDS = (
    "signal_type",
    "signal_value",
    "external_id",
    "labels",
    "source",
    "source_ref",
    "tlp",
    "note",
)
MAX_LINE_BYTES = 1024 * 1024


@dataclass
class ImportReport:
    items_added: int = 0
    signals_added: int = 0
    already_present: int = 0  # items whose external id the bank holds (an import re-run)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "items_added": self.items_added,
            "signals_added": self.signals_added,
            "already_present": self.already_present,
            "errors": [{"line": n, "error": e} for n, e in self.errors],
        }


def _item_from_json(obj: object) -> ItemInput:
    if not isinstance(obj, dict):
        raise InvalidInput("each line must be a JSON object")
    signals = obj.get("signals")
    if not isinstance(signals, list) or not signals:
        raise InvalidInput("'signals' must be a non-empty list")
    try:
        sigs = [SignalInput(str(s["type"]), str(s["value"]), s.get("quality")) for s in signals]
        labels = [
            LabelInput.parse(lb) if isinstance(lb, str)
            else LabelInput(str(lb["kind"]), str(lb["value"]), lb.get("reference"))
            for lb in obj.get("labels") or []
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"malformed signal or label: {exc}") from None
    text_fields = {k: obj.get(k) for k in ("external_id", "source_ref", "tlp")}
    for key, value in text_fields.items():
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"'{key}' must be a string")
    return ItemInput(
        signals=sigs,
        labels=labels,
        external_id=text_fields["external_id"],
        source=str(obj.get("source") or ""),
        source_ref=text_fields["source_ref"],
        tlp=text_fields["tlp"],
        note=str(obj.get("note") or ""),
    )


def iter_jsonl(stream: IO[bytes]) -> Iterator[tuple[int, ItemInput | CountersignalError]]:
    for number, raw in enumerate(stream, start=1):
        if len(raw) > MAX_LINE_BYTES:
            yield number, InvalidInput(f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if not raw.strip():
            continue
        try:
            yield number, _item_from_json(json.loads(raw.decode("utf-8")))
        except UnicodeDecodeError:
            yield number, InvalidInput("line is not valid UTF-8")
        except (json.JSONDecodeError, RecursionError) as exc:
            yield number, InvalidInput(f"invalid JSON: {exc}")
        except CountersignalError as exc:
            yield number, exc


def iter_csv(stream: IO[bytes]) -> Iterator[tuple[int, ItemInput | CountersignalError]]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
    csv.field_size_limit(MAX_LINE_BYTES)
    grouped: dict[str, tuple[int, ItemInput]] = {}
    try:
        reader = csv.DictReader(text)
        missing = {"signal_type", "signal_value"} - set(reader.fieldnames or ())
        if missing:
            yield 1, InvalidInput(f"CSV header lacks {', '.join(sorted(missing))}")
            return
        for row in reader:
            number = reader.line_num
            try:
                item = _item_from_csv_row(row)
            except CountersignalError as exc:
                yield number, exc
                continue
            if item.external_id:
                if item.external_id in grouped:
                    grouped[item.external_id][1].signals.extend(item.signals)
                    continue
                grouped[item.external_id] = (number, item)
            else:
                yield number, item
    except UnicodeDecodeError:
        yield 0, InvalidInput("file is not valid UTF-8")
    except csv.Error as exc:
        yield 0, InvalidInput(f"malformed CSV: {exc}")
    yield from grouped.values()


def _item_from_csv_row(row: dict) -> ItemInput:
    stype, value = (row.get("signal_type") or "").strip(), (row.get("signal_value") or "").strip()
    if not stype or not value:
        raise InvalidInput("signal_type and signal_value are required")
    labels = [LabelInput.parse(t) for t in (row.get("labels") or "").split(";") if t.strip()]
    return ItemInput(
        signals=[SignalInput(stype, value)],
        labels=labels,
        external_id=(row.get("external_id") or "").strip() or None,
        source=(row.get("source") or "").strip(),
        source_ref=(row.get("source_ref") or "").strip() or None,
        tlp=(row.get("tlp") or "").strip() or None,
        note=(row.get("note") or "").strip(),
    )


READERS: dict[str, Callable[[IO[bytes]], Iterator]] = {"jsonl": iter_jsonl, "csv": iter_csv}


def import_items(
    session: Session,
    bank: Bank,
    stream: IO[bytes],
    fmt: str,
    *,
    source: str = "",
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import items into ``bank``; each bad line is reported and skipped.

    Commits every ``batch_size`` items so a huge file neither holds one giant transaction nor
    loses finished work when it is interrupted; an item whose ``external_id`` the bank already
    holds is skipped, so re-running an interrupted import resumes it without duplicates.
    """
    if fmt not in READERS:
        raise InvalidInput(f"format must be one of {', '.join(READERS)}")
    report = ImportReport()
    pending = 0
    for number, parsed in READERS[fmt](stream):
        if isinstance(parsed, CountersignalError):
            report.errors.append((number, parsed.message))
            continue
        if source and not parsed.source:
            parsed.source = source
        if parsed.external_id is not None and session.scalar(
            select(BankItem.id).where(
                BankItem.bank_id == bank.id, BankItem.external_id == parsed.external_id
            ).limit(1)
        ):
            report.already_present += 1
            continue
        try:
            with session.begin_nested():
                row = add_item(session, bank, parsed)
        except CountersignalError as exc:
            report.errors.append((number, exc.message))
            continue
        report.items_added += 1
        report.signals_added += len(row.signals)
        pending += 1
        if pending >= batch_size:
            session.commit()
            pending = 0
        if on_progress:
            on_progress(number)
    session.commit()
    return report


def item_to_json(item: BankItem) -> dict:
    return {
        "id": item.id,
        "external_id": item.external_id,
        "signals": [
            {"type": s.type, "value": s.value, **({"quality": s.quality} if s.quality else {})}
            for s in item.signals
        ],
        "labels": [
            {
                "kind": lb.kind,
                "value": lb.value,
                **({"reference": lb.reference} if lb.reference else {}),
            }
            for lb in item.labels
        ],
        "source": item.source,
        "source_ref": item.source_ref,
        "tlp": item.tlp,
        "note": item.note,
        "created_at": item.created_at.isoformat(),
    }


def iter_bank_items(session: Session, bank: Bank, page: int = 1000) -> Iterator[BankItem]:
    after = None
    while True:
        rows = list_items(session, bank, limit=page, after=after)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].id


def export_items(session: Session, bank: Bank, out: IO[str], fmt: str) -> int:
    """Write the bank's items to ``out``; returns the number of items written."""
    if fmt not in READERS:
        raise InvalidInput(f"format must be one of {', '.join(READERS)}")
    count = 0
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for item in iter_bank_items(session, bank):
        count += 1
        if writer is None:
            out.write(json.dumps(item_to_json(item), ensure_ascii=False) + "\n")
            continue
        labels = ";".join(str(LabelInput(lb.kind, lb.value, lb.reference)) for lb in item.labels)
        for sig in item.signals:
            writer.writerow(
                {
                    "signal_type": sig.type,
                    "signal_value": sig.value,
                    "external_id": item.external_id or item.id,
                    "labels": labels,
                    "source": item.source,
                    "source_ref": item.source_ref or "",
                    "tlp": item.tlp or "",
                    "note": item.note,
                }
            )
    return count
