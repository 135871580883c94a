"""Where hashing runs: this process (``local``) or a Ray cluster (``ray``).

Only hashing is shipped out — it is the expensive part (milliseconds per image). Matching and
database writes stay in the driver, which holds the index once instead of once per worker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from countersignal.signals import HashResult, iter_hash_paths


def hash_chunk(paths: Sequence[str], dihedral: bool = False) -> list[HashResult]:
    """Hash one chunk of files; bad files come back as results with ``error`` set."""
    return list(iter_hash_paths(paths, jobs=1, dihedral=dihedral))


class Engine(Protocol):
    def map_chunks(
        self, chunks: Sequence[tuple[int, list[str]]], dihedral: bool
    ) -> Iterator[tuple[int, list[HashResult]]]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Single process, in order: the baseline the Ray engine's speed-up is measured against."""

    def map_chunks(self, chunks, dihedral):
        for number, paths in chunks:
            yield number, hash_chunk(paths, dihedral)

    def close(self) -> None:
        pass


class RayEngine:
    """Ray tasks, at most ``2 × CPUs`` in flight; results yielded as they finish."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        import ray

        self._ray = ray
        self._started_here = not ray.is_initialized()
        if self._started_here:
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
        self._task = ray.remote(hash_chunk)
        self._width = max(2, int(ray.cluster_resources().get("CPU", 1)) * 2)

    def map_chunks(self, chunks, dihedral):
        ray = self._ray
        pending: dict = {}
        queue = iter(chunks)
        for number, paths in queue:
            pending[self._task.remote(paths, dihedral)] = number
            if len(pending) >= self._width:
                break
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            number = pending.pop(ref)
            nxt = next(queue, None)
            if nxt is not None:
                pending[self._task.remote(nxt[1], dihedral)] = nxt[0]
            yield number, ray.get(ref)

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()


def make_engine(name: str, address: str | None = None, num_cpus: int | None = None) -> Engine:
    from countersignal.errors import InvalidInput

    if name == "local":
        return LocalEngine()
    if name == "ray":
        return RayEngine(address, num_cpus)
    raise InvalidInput(f"engine must be 'local' or 'ray', not {name!r}")
