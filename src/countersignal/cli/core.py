"""Core commands: hash content, match it against banks, compare two things, index upkeep."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from countersignal.cli.common import (
    OutputFormat,
    emit_rows,
    err,
    organisation_id,
    progress_columns,
    runtime,
)
from countersignal.errors import InvalidInput

PathsArg = Annotated[list[Path], typer.Argument(help="files or folders (walked recursively)")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="hashing processes")]
DihedralOpt = Annotated[
    bool, typer.Option("--dihedral", help="also hash the 8 rotations/flips of images")
]

MATCH_COLUMNS = (
    "path",
    "signal_type",
    "distance",
    "bank_name",
    "item_id",
    "external_id",
    "labels",
    "source",
)


def expand_paths(paths: list[Path]) -> list[Path]:
    from countersignal.signals.hashing import expand_paths as walk

    return [Path(p) for p in walk(paths)]


def hash_with_progress(
    files: list[Path], *, jobs: int, dihedral: bool, label: str, purpose: str = "query"
):
    """Yield HashResult per file while a progress bar (stderr) shows rate and errors.

    ``purpose="bank"`` only where the results go into a bank (dense video frames)."""
    from countersignal.signals import iter_hash_paths

    started, errors = time.monotonic(), 0
    with Progress(*progress_columns(), console=err, transient=not err.is_terminal) as bar:
        task = bar.add_task(label, total=len(files), rate="")
        for done, result in enumerate(
            iter_hash_paths([str(f) for f in files], jobs=jobs, dihedral=dihedral, purpose=purpose),
            start=1,
        ):
            errors += result.error is not None
            rate = done / max(time.monotonic() - started, 1e-9)
            bar.update(task, advance=1, rate=f"{rate:,.0f}/s errors={errors}")
            yield result


def hash_command(
    paths: PathsArg,
    jobs: JobsOpt = 1,
    dihedral: DihedralOpt = False,
    for_bank: Annotated[
        bool,
        typer.Option(
            "--for-bank",
            help="hash as 'bank add' does (videos every 1/30 s, so re-cuts match), for "
            "signals to import into a bank; default: as a query (videos 1 frame per second)",
        ),
    ] = False,
) -> None:
    """Hash files and folders; one JSON line per file on stdout (errors included)."""
    files = expand_paths(paths)
    failed = 0
    purpose = "bank" if for_bank else "query"
    for result in hash_with_progress(
        files, jobs=jobs, dihedral=dihedral, label="hashing", purpose=purpose
    ):
        failed += result.error is not None
        record = {
            "path": result.path,
            "signals": [
                {"type": s.type, "value": s.value, "quality": s.quality, **s.meta}
                for s in result.signals
            ],
            "error": result.error,
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    if failed:
        err.print(f"[yellow]{failed} of {len(files)} files could not be hashed (see 'error')")
        raise typer.Exit(2)


def match_command(
    paths: PathsArg,
    threshold: Annotated[
        int | None, typer.Option(help="PDQ distance threshold (default 31, max 63)")
    ] = None,
    bank: Annotated[list[str] | None, typer.Option(help="only these banks (id or name)")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    jobs: JobsOpt = 1,
    dihedral: DihedralOpt = False,
) -> None:
    """Match files against the banks. Exit code 1 when something matched, 2 on bad input."""
    from countersignal.banks.service import get_bank
    from countersignal.index.matcher import match_signals

    rt = runtime()
    org = organisation_id(rt)
    thresholds = {}
    if threshold is not None:
        if not 0 <= threshold <= 63:
            raise InvalidInput("--threshold must be between 0 and 63")
        thresholds = {"pdq": threshold, "vpdq": threshold}
    with rt.sessions() as session:
        bank_ids = [get_bank(session, org, b).id for b in bank] if bank else None
    matcher = rt.matcher
    rows, failed, files = [], 0, expand_paths(paths)
    for result in hash_with_progress(files, jobs=jobs, dihedral=dihedral, label="matching"):
        if result.error:
            failed += 1
            err.print(f"[yellow]{result.path}: {result.error}")
            continue
        with rt.sessions() as session:
            found = match_signals(
                session, matcher, org, result.signals, thresholds=thresholds, bank_ids=bank_ids
            )
        for match in found:
            row = match.as_dict()
            row["path"] = result.path
            row["labels"] = [
                f"{lb['kind']}:{lb['value']}" + (f"@{lb['reference']}" if lb["reference"] else "")
                for lb in match.labels
            ]
            rows.append(row)
    emit_rows(rows, MATCH_COLUMNS, fmt, title=f"{len(rows)} matches in {len(files)} files")
    if rows:
        raise typer.Exit(1)
    if failed:
        raise typer.Exit(2)


def _signals_of(thing: str):
    """A file path, or an explicit ``type:value`` signal."""
    from countersignal.signals import Signal, get_signal_type, hash_file

    path = Path(thing)
    if path.exists():
        return hash_file(path)
    stype, sep, value = thing.partition(":")
    if not sep:
        raise InvalidInput(f"{thing!r} is neither a file nor a type:value signal")
    return [Signal(stype, get_signal_type(stype).validate(value))]


def compare_command(
    a: Annotated[str, typer.Argument(help="file, or type:value")],
    b: Annotated[str, typer.Argument(help="file, or type:value")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Compare two files or signals type by type. Exit code 1 when they match."""
    from countersignal.signals import get_signal_type

    left, right = _signals_of(a), _signals_of(b)
    rows = []
    for sa in left:
        for sb in right:
            if sa.type != sb.type:
                continue
            stype = get_signal_type(sa.type)
            distance = stype.distance(sa.value, sb.value)
            rows.append(
                {
                    "signal_type": sa.type,
                    "distance": distance,
                    "threshold": stype.default_threshold,
                    "match": distance <= stype.default_threshold,
                    "a": sa.value[:64],
                    "b": sb.value[:64],
                }
            )
    if not rows:
        raise InvalidInput("the two have no signal type in common")
    emit_rows(rows, ("signal_type", "distance", "threshold", "match", "a", "b"), fmt)
    if any(r["match"] for r in rows):
        raise typer.Exit(1)


index_app = typer.Typer(help="Match indexes: status and snapshots.", no_args_is_help=True)


@index_app.command("status")
def index_status() -> None:
    """Show index sizes and the change-log position they reflect."""
    sys.stdout.write(json.dumps(runtime().matcher.status(), indent=2) + "\n")


@index_app.command("snapshot")
def index_snapshot() -> None:
    """Write a snapshot so the next start loads fast and replays only the log tail."""
    rt = runtime()
    started = time.monotonic()
    path = rt.matcher.save()
    err.print(f"snapshot written to {path.parent} in {time.monotonic() - started:.2f}s")


@index_app.command("prune-log")
def index_prune_log(
    below: Annotated[int | None, typer.Option(
        help="delete change-log entries numbered below this (default: what this host's "
             "snapshot no longer needs); with replicas on several hosts, give the lowest "
             "over all of them")] = None,
) -> None:
    """Delete signal change-log entries that no snapshot needs any more (the log grows by one
    row per signal change; the newest row is always kept)."""
    from countersignal.index.matcher import prune_change_log

    rt = runtime()
    if below is None:
        below = rt.matcher.snapshot_position()
        if below is None:
            raise InvalidInput("no snapshot here: write one first (countersignal index "
                               "snapshot) or give --below")
    removed = prune_change_log(rt.sessions, below=below)
    err.print(f"removed {removed} change-log entries below {below}")


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_command)
    app.command("match")(match_command)
    app.command("compare")(compare_command)
    app.add_typer(index_app, name="index")
