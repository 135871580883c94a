"""Bounds for the hostile-input suite: fixed example counts and deadlines (CI time is bounded,
the whole fuzz suite runs in well under two minutes on two cores), and a subprocess runner that
measures peak memory under an address-space limit so a bomb cannot take the test run down."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, settings

IN_CI = os.environ.get("CI") == "true"
# A bug hunt: COUNTERSIGNAL_FUZZ_SCALE=20 bash scripts/test.sh tests/fuzz runs 20x the examples
# (ignored in CI, whose inputs and time stay fixed)
SCALE = 1 if IN_CI else max(1, int(os.environ.get("COUNTERSIGNAL_FUZZ_SCALE", "1")))


def fuzz_settings(examples: int, deadline_ms: int = 2000) -> settings:
    """Deterministic in CI (same inputs every run, so a failure reproduces and time is fixed);
    random locally, where a new failure is worth finding."""
    return settings(
        max_examples=examples * SCALE,
        deadline=timedelta(milliseconds=deadline_ms),
        derandomize=IN_CI,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@dataclass
class Bounded:
    returncode: int
    result: dict
    peak_mib: float
    seconds: float
    stderr: str


_EPILOGUE = """
import json as _json, resource as _resource
print(_json.dumps({"result": result,
                   "peak_mib": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_bounded(code: str, *, memory_mib: int = 3072, timeout_s: float = 60) -> Bounded:
    """Run ``code`` (which sets a JSON-able ``result``) in a fresh interpreter with RLIMIT_AS at
    ``memory_mib``. Returns ``result``, the child's own peak RSS and its wall time; a child
    killed by the limit or a crash has ``returncode`` != 0 and an empty ``result``."""
    limit = memory_mib * 1024 * 1024

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-"], input=textwrap.dedent(code) + _EPILOGUE, capture_output=True,
        text=True, timeout=timeout_s, preexec_fn=cap, env=env,
    )
    seconds = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return Bounded(done.returncode, report.get("result") or {}, report.get("peak_mib", 0.0),
                   seconds, done.stderr[-3000:])
