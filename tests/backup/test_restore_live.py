"""``countersignal restore`` refuses to replace a deployment a service is running on: a real
``countersignal serve`` holds the home's service lock (SQLite) or is connected to the database
(PostgreSQL, seen from another home); nothing is changed. Once the server is gone (even by
``kill -9``) the same restore goes through; a server does not start during a restore."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from api.conftest import COUNTERSIGNAL, PG_ADMIN_URL, _pg_database, start_server, stop_server
from countersignal.backup.database import table_counts


def _cli(home: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COUNTERSIGNAL_HOME": str(home)}
    env.pop("COUNTERSIGNAL_DATABASE_URL", None)
    if database_url:
        env["COUNTERSIGNAL_DATABASE_URL"] = database_url
    return subprocess.run([COUNTERSIGNAL, *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=home.parent)


def _add_bank(url: str, token: str, name: str) -> None:
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        made = client.post("/v1/banks", json={"name": name})
        assert made.status_code == 201, made.text


def test_restore_refuses_a_running_server_on_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database_url = f"sqlite:///{(home / 'countersignal.db').resolve()}"
    process, url, _log, token = start_server(tmp_path, {}, [])
    try:
        backup = tmp_path / "b.tar"
        made = _cli(home, "backup", str(backup))  # taking a backup while serving is fine
        assert made.returncode == 0, made.stderr
        _add_bank(url, token, "after-the-backup")
        before = table_counts(database_url)

        refused = _cli(home, "restore", str(backup), "--force")
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert "serve is running" in refused.stderr and f"pid {process.pid}" in refused.stderr
        assert table_counts(database_url) == before  # nothing was replaced
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        _add_bank(url, token, "still-serving")  # the live service is intact and writable

        os.kill(process.pid, signal.SIGKILL)  # no shutdown code: the kernel drops the lock
        process.wait()
        done = _cli(home, "restore", str(backup), "--force")
        assert done.returncode == 0, done.stderr
        restored = table_counts(database_url)
        assert restored["banks"] == before["banks"] - 1  # back to the backup's moment
    finally:
        if process.poll() is None:
            stop_server(process)


def test_a_server_does_not_start_during_a_restore(tmp_path: Path) -> None:
    from countersignal.backup.liveness import claim_for_restore
    from countersignal.settings import Settings

    home = tmp_path / "home"
    with claim_for_restore(Settings(home=home)) as lock:
        assert lock.fd is not None
        started = _cli(home, "serve", "--port", "1")
    assert started.returncode == 4, started.stdout + started.stderr
    assert "a restore is replacing this deployment" in started.stderr
    with claim_for_restore(Settings(home=home)):  # released: it can be taken again
        pass


@pytest.mark.postgres
def test_restore_refuses_a_postgres_database_in_use_from_another_home(tmp_path: Path,
                                                                      pg_server) -> None:
    """The server runs with home A; the restore runs with home B (another machine, say), so
    the lock file cannot see the server: its connections to the target database can."""
    name = f"cs_live_{os.getpid()}_{tmp_path.name[-6:]}".replace("-", "_")
    _pg_database(name, create=True)
    database_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    process, url, _log, token = start_server(
        tmp_path, {"COUNTERSIGNAL_DATABASE_URL": database_url}, ["--demo"])
    try:
        backup = tmp_path / "b.tar"
        made = _cli(tmp_path / "home", "backup", str(backup), database_url=database_url)
        assert made.returncode == 0, made.stderr
        _add_bank(url, token, "after-the-backup")
        before = table_counts(database_url)
        elsewhere = tmp_path / "other-home"
        elsewhere.mkdir()
        refused = _cli(elsewhere, "restore", str(backup), "--force", database_url=database_url)
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert "other connection(s) to the target database" in refused.stderr
        assert table_counts(database_url) == before
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    finally:
        stop_server(process)
        _pg_database(name, create=False)
