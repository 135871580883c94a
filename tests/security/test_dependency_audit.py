"""scripts/audit_deps.sh (run by scripts/test.sh): a known vulnerability fails the build; an
audit that could not run says so and does not pass itself off as clean. Fed pip-audit reports
in its JSON format, so the verdicts are checked without reaching a vulnerability service."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "audit_deps.sh"


def _audit(tmp_path: Path, report: dict | None, strict: bool = False) -> tuple[int, str]:
    path = tmp_path / "audit.json"
    if report is not None:
        path.write_text(json.dumps(report))
    env = {**os.environ, "AUDIT_JSON": str(path), "AUDIT_STRICT": "1" if strict else "0"}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


CLEAN = {"name": "httpx", "version": "0.28.1", "vulns": []}
SKIPPED = {"name": "anyio", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_a_known_vulnerability_fails(tmp_path) -> None:
    vulnerable = {"name": "jinja2", "version": "3.1.2", "vulns": [
        {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": [],
         "description": "xss"}]}
    code, out = _audit(tmp_path, {"dependencies": [CLEAN, vulnerable, SKIPPED], "fixes": []})
    assert code == 1
    assert "VULNERABLE jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in out


def test_clean_audit_counts_what_was_checked(tmp_path) -> None:
    code, out = _audit(tmp_path, {"dependencies": [CLEAN, SKIPPED], "fixes": []})
    assert code == 0
    assert "no known vulnerabilities in 1 dependencies; 1 could not be checked" in out


@pytest.mark.parametrize("report", [None, {"dependencies": [SKIPPED, SKIPPED]}, {"x": 1}])
def test_an_audit_that_could_not_run_says_so(tmp_path, report) -> None:
    """What this machine's network gives: every package skipped, or no report at all."""
    code, out = _audit(tmp_path, report)
    assert code == 0 and "NOT AUDITED" in out and "no known vulnerabilities" not in out
    strict_code, _ = _audit(tmp_path, report, strict=True)
    assert strict_code == 2


def test_the_test_script_runs_the_audit() -> None:
    assert "scripts/audit_deps.sh" in (ROOT / "scripts" / "test.sh").read_text()
