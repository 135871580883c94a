"""``countersignal backfill SOURCE``: hash and match a large archive, resumable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from countersignal.cli.common import err, organisation_id, out, progress_columns, runtime


def backfill(
    source: Annotated[Path, typer.Argument(help="folder tree, or a manifest file of paths")],
    engine: Annotated[str, typer.Option(help="local (this process) or ray")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start one)")
    ] = None,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs for a Ray started here")] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="files per task/checkpoint")] = 32,
    dihedral: bool = False,
) -> None:
    """Hash and match every file; resumes an interrupted run over the same archive."""
    from countersignal.backfill.service import run_backfill, run_errors

    rt = runtime()
    org = organisation_id(rt)
    started = time.monotonic()
    with Progress(*progress_columns(), console=err) as bar:
        task = bar.add_task("backfill", total=None, rate="")
        first = {}

        def show(p) -> None:
            first.setdefault("done", p.done)
            rate = (p.done - first["done"]) / max(time.monotonic() - started, 1e-9)
            bar.update(
                task,
                total=p.total,
                completed=p.done,
                rate=f"{rate:,.1f}/s errors={p.errors} matches={p.matches}",
            )

        run = run_backfill(
            rt,
            source,
            organisation_id=org,
            engine=engine,
            address=address,
            num_cpus=num_cpus,
            chunk_size=chunk_size,
            dihedral=dihedral,
            on_progress=show,
        )
    out.print(
        f"run {run.id}: {run.items_done}/{run.total_items} items, {run.matches} matches, "
        f"{run.errors} errors, {time.monotonic() - started:.1f}s ({run.status})"
    )
    for problem in run_errors(rt, run.id)[:20]:
        err.print(f"[yellow]{problem['path']}: {problem['error']}")


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)
