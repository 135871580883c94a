"""One line describing the machine a benchmark ran on (every bench script prints it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def describe(*, memory: bool = True, load: bool = False, python: bool = False) -> str:
    """``"<cpu>, N cores[, M GiB RAM][, load average L][, Python X]"``."""
    parts = [cpu_model(), f"{os.cpu_count()} cores"]
    if memory:
        gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        parts.append(f"{gib:.0f} GiB RAM")
    if load:
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    if python:
        parts.append(f"Python {platform.python_version()}")
    return ", ".join(parts)
