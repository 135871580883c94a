"""Run or resume a backfill: the archive is cut into numbered chunks of paths; a chunk's matches,
errors and its "finished" mark commit in one transaction, so a crash or Ctrl-C loses at most the
chunks in flight and a resume redoes exactly those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from countersignal.backfill.engines import make_engine
from countersignal.backfill.models import BackfillChunk, BackfillMatch, BackfillRun
from countersignal.errors import InvalidInput
from countersignal.index.matcher import match_signals
from countersignal.runtime import Runtime
from countersignal.signals.hashing import expand_paths


@dataclass
class Progress:
    total: int
    done: int
    errors: int
    matches: int


def read_source(source: Path) -> list[str]:
    """The archive's files in a stable order: a folder tree, or a manifest file of paths."""
    if source.is_dir():
        return list(expand_paths([source]))
    if source.is_file():
        base = source.parent
        paths = []
        with source.open(encoding="utf-8") as fh:
            for line in fh:
                entry = line.strip()
                if entry and not entry.startswith("#"):
                    path = Path(entry)
                    paths.append(str(path if path.is_absolute() else base / path))
        return paths
    raise InvalidInput(f"{source} is neither a folder nor a manifest file")


def _manifest_sha256(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def open_run(rt: Runtime, organisation_id: str, source: Path, paths: list[str], chunk_size: int):
    """The unfinished run over the same archive (resume), or a new one."""
    sha = _manifest_sha256(paths)
    with rt.sessions.begin() as session:
        run = session.scalar(
            select(BackfillRun).where(
                BackfillRun.organisation_id == organisation_id,
                BackfillRun.manifest_sha256 == sha,
                BackfillRun.status != "done",
            )
        )
        if run is None:
            run = BackfillRun(
                organisation_id=organisation_id,
                source=str(source),
                manifest_sha256=sha,
                total_items=len(paths),
                chunk_size=chunk_size,
            )
            session.add(run)
        run.status = "running"
        session.flush()
        done = set(
            session.scalars(select(BackfillChunk.chunk).where(BackfillChunk.run_id == run.id))
        )
        return run, done


def run_backfill(
    rt: Runtime,
    source: Path,
    *,
    organisation_id: str,
    engine: str = "local",
    address: str | None = None,
    num_cpus: int | None = None,
    chunk_size: int = 32,
    dihedral: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
) -> BackfillRun:
    """Hash and match every file of ``source``; returns the finished (or interrupted) run."""
    if chunk_size < 1:
        raise InvalidInput("chunk size must be at least 1")
    paths = read_source(source)
    run, done = open_run(rt, organisation_id, source, paths, chunk_size)
    size = run.chunk_size  # a resumed run keeps its own chunking
    chunks = [
        (n, paths[n * size : (n + 1) * size])
        for n in range((len(paths) + size - 1) // size)
        if n not in done
    ]
    progress = Progress(run.total_items, run.items_done, run.errors, run.matches)
    if on_progress:
        on_progress(progress)
    matcher = rt.matcher
    workers = make_engine(engine, address, num_cpus)
    status = "interrupted"
    try:
        for number, results in workers.map_chunks(chunks, dihedral):
            _commit_chunk(rt, run.id, organisation_id, matcher, number, results, progress)
            if on_progress:
                on_progress(progress)
        status = "done"
    finally:
        workers.close()
        with rt.sessions.begin() as session:
            session.execute(
                update(BackfillRun).where(BackfillRun.id == run.id).values(status=status)
            )
    with rt.sessions() as session:
        return session.get(BackfillRun, run.id)


def _commit_chunk(rt, run_id, organisation_id, matcher, number, results, progress) -> None:
    errors, matches = [], []
    with rt.sessions.begin() as session:
        for result in results:
            if result.error:
                errors.append({"path": result.path, "error": result.error})
                continue
            for found in match_signals(session, matcher, organisation_id, result.signals):
                matches.append(
                    BackfillMatch(
                        run_id=run_id,
                        path=result.path,
                        signal_type=found.signal_type,
                        signal_id=found.signal_id,
                        item_id=found.item_id,
                        bank_id=found.bank_id,
                        distance=int(found.distance),
                    )
                )
        session.add_all(matches)
        session.add(BackfillChunk(run_id=run_id, chunk=number, items=len(results), errors=errors))
        session.execute(
            update(BackfillRun)
            .where(BackfillRun.id == run_id)
            .values(
                items_done=BackfillRun.items_done + len(results),
                errors=BackfillRun.errors + len(errors),
                matches=BackfillRun.matches + len(matches),
            )
        )
    progress.done += len(results)
    progress.errors += len(errors)
    progress.matches += len(matches)


def run_errors(rt: Runtime, run_id: str) -> list[dict]:
    with rt.sessions() as session:
        rows = session.scalars(
            select(BackfillChunk.errors).where(BackfillChunk.run_id == run_id)
        ).all()
    return [e for chunk in rows for e in chunk]
