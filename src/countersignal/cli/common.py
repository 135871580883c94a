"""Helpers shared by CLI commands: the runtime, consoles and output formats."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum

from rich.console import Console
from rich.table import Table

from countersignal.runtime import Runtime

out = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def runtime() -> Runtime:
    return Runtime()


def organisation_id(rt: Runtime) -> str:
    """The organisation the CLI acts for: ``COUNTERSIGNAL_ORGANISATION`` (id or name), or the
    embedded default's demo organisation (created on first use)."""
    from countersignal.auth import Principal, find_organisation
    from countersignal.cli.serve import seed_demo

    if rt.settings.organisation:
        with rt.sessions() as session:
            return find_organisation(
                session, rt.settings.organisation, by=Principal.system("cli")
            ).id
    from sqlalchemy import select

    from countersignal.auth.demo import DEMO_ORGANISATION
    from countersignal.auth.models import Organisation

    seed_demo(rt.sessions)
    with rt.sessions() as session:
        return session.scalar(select(Organisation.id).where(Organisation.name == DEMO_ORGANISATION))


def emit_rows(
    rows: Sequence[dict], columns: Sequence[str], fmt: OutputFormat, title: str = ""
) -> None:
    """Print rows as a Rich table, JSON Lines or CSV on stdout."""
    if fmt is OutputFormat.json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    elif fmt is OutputFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _flat(row.get(c)) for c in columns})
    else:
        table = Table(title=title or None)
        for col in columns:
            table.add_column(col)
        for row in rows:
            table.add_row(*(_flat(row.get(c)) for c in columns))
        out.print(table)


def _flat(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items() if v is not None)
    return str(value)


def progress_columns() -> Iterable:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
