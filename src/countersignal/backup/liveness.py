"""Is a service running on this deployment? ``restore`` must not pull the database, vault and
index files from under a live ``countersignal serve``: it would go on serving (and writing)
a mix of old and restored state.

Two signs, either of which refuses a restore:

* **The service lock.** ``serve`` holds a *shared* ``flock`` on ``<home>/service.lock`` for as
  long as it runs (several servers on one home may hold it together). ``restore`` takes it
  *exclusively* and keeps it until done, so it sees every server on this home, and a server
  started during a restore refuses to start. The kernel drops the lock when the process ends,
  however it ends (``kill -9`` included): no stale pid file to clean up. The holders' pids are
  read from ``/proc/locks`` for the message.
* **Other connections to a PostgreSQL target** (``pg_stat_activity``, client backends other
  than our own): a service, worker or ``psql`` on another machine or home that the lock file
  cannot see.

SQLite files shared by services with *different* homes are not detected (keep one home per
deployment; that is the default layout).
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from countersignal.errors import Conflict
from countersignal.settings import Settings

LOCK_FILE = "service.lock"


class ServiceRunning(Conflict):
    """A service is using the deployment a restore would replace."""

    title = "Service running"


@dataclass
class ServiceLock:
    """An open, locked ``service.lock``; released by :meth:`close` or when the process ends."""

    path: Path
    fd: int | None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> ServiceLock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def lock_path(settings: Settings) -> Path:
    return (settings.home / LOCK_FILE).resolve()


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def hold_service_lock(settings: Settings) -> ServiceLock:
    """For ``serve``: the home's lock, shared, held until the process ends (or ``close``).
    Refuses while a restore holds it."""
    path = lock_path(settings)
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ServiceRunning(
            f"a restore is replacing this deployment ({settings.home}); start the service "
            "when it has finished"
        ) from None
    return ServiceLock(path, fd)


def holders(path: Path) -> list[int]:
    """Pids holding a ``flock`` on ``path`` (Linux ``/proc/locks``; empty when unreadable)."""
    try:
        stat = path.stat()
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        try:
            kind, pid, device_inode = fields[1], int(fields[4]), fields[5]
        except (IndexError, ValueError):
            continue
        _major, _minor, inode = device_inode.split(":")
        if kind == "FLOCK" and int(inode) == stat.st_ino:
            found.append(pid)
    return sorted(set(found) - {os.getpid()})


def _postgres_sessions(url: str) -> list[str]:
    """Other client connections to the PostgreSQL database at ``url``, described."""
    import psycopg

    from countersignal.backup.database import _libpq

    uri, env = _libpq(url)
    with psycopg.connect(uri, connect_timeout=10, password=env.get("PGPASSWORD")) as conn:
        rows = conn.execute(
            "SELECT pid, coalesce(application_name, ''), coalesce(host(client_addr), 'local') "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid"
        ).fetchall()
    return [f"pid {pid} from {addr}" + (f" ({app})" if app else "") for pid, app, addr in rows]


def claim_for_restore(settings: Settings, *, allow_running: bool = False) -> ServiceLock:
    """Make sure nothing serves the deployment ``settings`` describes and keep it that way for
    the restore: the service lock, exclusive (hold it until the restore is done). Raises
    :class:`ServiceRunning` when a service holds the lock or (PostgreSQL) other clients are
    connected to the target, unless ``allow_running``."""
    from countersignal.backup.database import dialect

    path = lock_path(settings)
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pids = holders(path)
        if not allow_running:
            os.close(fd)
            who = f" (pid {', '.join(map(str, pids))})" if pids else ""
            raise ServiceRunning(
                f"countersignal serve is running on this deployment{who}, home "
                f"{settings.home}: stop it before restoring (restoring under a live service "
                "would leave it serving a mix of old and restored data), or pass "
                "--allow-running"
            ) from None
        os.close(fd)
        fd = None
    url = settings.effective_database_url
    if dialect(url) == "postgresql" and not allow_running:
        sessions = _postgres_sessions(url)
        if sessions:
            if fd is not None:
                os.close(fd)
            raise ServiceRunning(
                f"{len(sessions)} other connection(s) to the target database: "
                f"{'; '.join(sessions[:5])}. Stop the services and workers using it before "
                "restoring, or pass --allow-running"
            )
    return ServiceLock(path, fd)
