"""The demo organisation's admin token is written once to ``<home>/demo-token`` (mode 0600),
never to the server's stdout/stderr (its log) nor the CLI's output: only the path is printed."""

from __future__ import annotations

import os
import stat
import subprocess

import httpx

from api.conftest import COUNTERSIGNAL, start_server, stop_server


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_writes_the_demo_token_to_a_0600_file_and_never_logs_it(tmp_path) -> None:
    process, url, log, token = start_server(tmp_path, {}, [])
    try:
        token_file = tmp_path / "home" / "demo-token"
        assert token and token.startswith("cs_")  # read from the file by start_server
        assert _mode(token_file) == 0o600
        assert token_file.read_text() == token + "\n"
        with httpx.Client(base_url=url, timeout=30) as client:
            me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text
    finally:
        stop_server(process)
    first_log = log.read_text()
    assert token not in first_log
    assert f"cat {token_file.resolve()}" in first_log and "Demo organisation created" in first_log

    # A restart does not make a new token nor print the old one; it points at the file again.
    process, url, log, again = start_server(tmp_path, {}, [])
    try:
        assert again == token and _mode(token_file) == 0o600
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}
                              ).status_code == 200
    finally:
        stop_server(process)
    second_log = log.read_text()
    assert token not in second_log and "Demo organisation created" not in second_log
    assert f"cat {token_file.resolve()}" in second_log


def test_a_cli_command_that_seeds_the_demo_saves_the_token_too(tmp_path) -> None:
    """Any command on a fresh embedded home creates the demo organisation; its token must not
    be lost (nor printed) when that happens outside ``serve``. A permissive umask does not
    widen the file's mode."""
    env = {**os.environ, "COUNTERSIGNAL_HOME": str(tmp_path / "home")}
    env.pop("COUNTERSIGNAL_DATABASE_URL", None)
    env.pop("COUNTERSIGNAL_ORGANISATION", None)
    done = subprocess.run([COUNTERSIGNAL, "bank", "create", "first"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, umask=0)
    assert done.returncode == 0, done.stderr
    token_file = tmp_path / "home" / "demo-token"
    token = token_file.read_text().strip()
    assert token.startswith("cs_") and _mode(token_file) == 0o600
    assert token not in done.stdout + done.stderr
    assert not list(token_file.parent.glob(".demo-token*"))  # no temporary file left
