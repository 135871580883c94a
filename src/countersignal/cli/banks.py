"""``countersignal bank ...``: create, list, add content or signals, import and export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from countersignal.cli.common import (
    OutputFormat,
    emit_rows,
    err,
    organisation_id,
    out,
    progress_columns,
    runtime,
)
from countersignal.errors import InvalidInput

bank_app = typer.Typer(help="Banks of known content and their signals.", no_args_is_help=True)

LabelOpt = Annotated[
    list[str] | None,
    typer.Option("--label", "-l", help="kind:value[@reference], e.g. behaviour:glorification"),
]


@bank_app.command("create")
def create(
    name: str,
    description: str = "",
    tlp: Annotated[str, typer.Option(help="CLEAR, GREEN, AMBER, AMBER+STRICT or RED")] = "AMBER",
    trusted: Annotated[bool, typer.Option(help="may feed automatic actions")] = False,
    local_only: Annotated[bool, typer.Option(help="never shared with partners")] = False,
) -> None:
    """Create a bank."""
    from countersignal.banks.service import create_bank

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        bank = create_bank(
            session,
            organisation_id=org,
            name=name,
            description=description,
            tlp=tlp,
            trusted=trusted,
            local_only=local_only,
        )
        out.print(f"created bank [bold]{bank.name}[/] ({bank.id})")


@bank_app.command("list")
def list_(fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table):
    """List banks with item and signal counts."""
    from countersignal.banks.service import bank_counts, list_banks

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        banks = list_banks(session, org)
        counts = bank_counts(session, [b.id for b in banks])
        rows = [
            {
                "id": b.id,
                "name": b.name,
                "tlp": b.tlp,
                "trusted": b.trusted,
                "local_only": b.local_only,
                "items": counts[b.id][0],
                "signals": counts[b.id][1],
            }
            for b in banks
        ]
    emit_rows(rows, ("id", "name", "tlp", "trusted", "local_only", "items", "signals"), fmt)


@bank_app.command("add")
def add(
    bank: str,
    paths: Annotated[list[Path], typer.Argument(help="files or folders to hash and add")],
    label: LabelOpt = None,
    source: Annotated[str, typer.Option(help="provenance: where this content came from")] = "",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1)] = 1,
) -> None:
    """Hash files and add each as a bank item (one item per file).

    Videos are hashed densely (every 1/30 s) so that re-cuts of them still match queries
    hashed at one frame per second."""
    from countersignal.banks.service import ItemInput, LabelInput, SignalInput, add_item, get_bank
    from countersignal.cli.core import expand_paths, hash_with_progress

    rt = runtime()
    org = organisation_id(rt)
    labels = [LabelInput.parse(t) for t in label or []]
    added, failed = 0, 0
    with rt.sessions() as session:
        target = get_bank(session, org, bank)
        files = expand_paths(paths)
        for result in hash_with_progress(
            files, jobs=jobs, dihedral=False, label="adding", purpose="bank"
        ):
            if result.error:
                failed += 1
                err.print(f"[yellow]{result.path}: {result.error}")
                continue
            signals = [
                SignalInput(s.type, s.value, s.quality)
                for s in result.signals
                if not s.meta.get("unreliable")
            ]
            item = ItemInput(
                signals=signals, labels=labels, external_id=Path(result.path).name, source=source
            )
            with session.begin_nested():
                add_item(session, target, item)
            added += 1
        session.commit()
    out.print(f"added {added} items to {bank}" + (f", {failed} files failed" if failed else ""))
    if failed:
        raise typer.Exit(2)


@bank_app.command("add-signal")
def add_signal(
    bank: str,
    signal_type: str,
    value: str,
    label: LabelOpt = None,
    source: str = "",
    external_id: str | None = None,
) -> None:
    """Add one raw signal (e.g. a PDQ hash from a partner) as a bank item."""
    from countersignal.banks.service import ItemInput, LabelInput, SignalInput, add_item, get_bank

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        target = get_bank(session, org, bank)
        item = add_item(
            session,
            target,
            ItemInput(
                signals=[SignalInput(signal_type, value)],
                labels=[LabelInput.parse(t) for t in label or []],
                source=source,
                external_id=external_id,
            ),
        )
        out.print(f"added item {item.id}")


def _format_for(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if suffix == "csv":
        return "csv"
    raise InvalidInput(f"cannot tell the format of {path.name}; pass --format csv|jsonl")


@bank_app.command("import")
def import_(
    bank: str,
    file: Path,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="csv or jsonl")] = None,
    source: Annotated[str, typer.Option(help="provenance for items that name none")] = "",
) -> None:
    """Import items from CSV or JSON Lines; bad lines are reported and skipped."""
    from countersignal.banks.io import import_items
    from countersignal.banks.service import get_bank

    rt = runtime()
    org = organisation_id(rt)
    kind = _format_for(file, fmt)
    if not file.is_file():
        raise InvalidInput(f"{file} is not a file")
    size = file.stat().st_size
    with (
        rt.sessions() as session,
        file.open("rb") as stream,
        Progress(*progress_columns(), console=err) as bar,
    ):
        target = get_bank(session, org, bank)
        task = bar.add_task("importing", total=size, rate="")
        report = import_items(
            session,
            target,
            stream,
            kind,
            source=source,
            on_progress=lambda _n: bar.update(task, completed=stream.tell()),
        )
        bar.update(task, completed=size)
    out.print(
        f"imported {report.items_added} items ({report.signals_added} signals), "
        f"{report.already_present} already present, {len(report.errors)} bad lines"
    )
    for number, message in report.errors[:50]:
        err.print(f"[yellow]line {number}: {message}")
    if report.errors:
        raise typer.Exit(2)


@bank_app.command("export")
def export(
    bank: str,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or jsonl")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Export a bank's items to stdout or a file."""
    from countersignal.banks.io import export_items
    from countersignal.banks.service import get_bank

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        target = get_bank(session, org, bank)
        if output is None:
            count = export_items(session, target, sys.stdout, fmt)
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                count = export_items(session, target, fh, fmt)
    err.print(f"exported {count} items")


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")
