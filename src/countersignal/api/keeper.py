"""Keeps the matcher current in a background thread: load once, then follow the change log.

Writes through this process call :meth:`MatcherKeeper.sync_now` after they commit, so they are
matchable at once. Writes by other processes (other API replicas, the CLI, importers) wake the
keeper through PostgreSQL ``LISTEN``/``NOTIFY`` (a trigger on ``signal_changes`` notifies when
the writing transaction commits); polling every ``COUNTERSIGNAL_API_MATCHER_POLL_S`` (default
0.5 s) stays as the fallback: on SQLite, when the listening connection drops, and to retry
sequence-number holes. No path ever rebuilds an index.

Every ``COUNTERSIGNAL_API_MATCHER_SNAPSHOT_S`` seconds (default 300; 0: never) with new changes
applied, and once at shutdown, the keeper writes a matcher snapshot, so a restarting replica
loads it and replays only the log tail written since.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from countersignal.runtime import Runtime

log = logging.getLogger("countersignal.api.matcher")

LOAD_RETRY_S = 5.0
LISTEN_RETRY_S = 30.0
NOTIFY_CHANNEL = "countersignal_signal_changes"  # see migration banks_0002


def freeze_long_lived_heap() -> None:
    """Move everything alive now (modules, settings, the loaded indexes) out of the cyclic
    garbage collector's view. Without it, each full collection walks that heap and stalls
    every request in flight: ~150 ms pauses measured under load, the API's p99."""
    gc.collect()
    gc.freeze()


class MatcherKeeper:
    def __init__(
        self,
        runtime: Runtime,
        poll_s: float,
        *,
        listen: bool | None = None,
        snapshot_every_s: float | None = None,
    ) -> None:
        api = runtime.settings.api
        self.runtime = runtime
        self.poll_s = max(poll_s, 0.05)
        self.listen = api.matcher_listen if listen is None else listen
        self.snapshot_every_s = (
            api.matcher_snapshot_s if snapshot_every_s is None else snapshot_every_s
        )
        self.matcher = None
        self.last_sync = 0.0
        self.snapshot_seq = -1
        self._last_snapshot = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._listener = None
        self._listen_retry_at = 0.0
        self._snapshotter: threading.Thread | None = None

    @property
    def stale_after_s(self) -> float:
        return max(5.0, 10 * self.poll_s)

    @property
    def ready(self) -> bool:
        """Loaded, and synced recently enough that matches reflect the banks."""
        return (
            self.matcher is not None
            and self.matcher.ready
            and time.monotonic() - self.last_sync < self.stale_after_s
        )

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="matcher-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while self.matcher is None and not self._stop.is_set():
            try:
                started = time.monotonic()
                self.matcher = self.runtime.matcher
                freeze_long_lived_heap()
                self.last_sync = time.monotonic()
                self.snapshot_seq = self.matcher.applied_seq
                log.info("matcher loaded in %.1f s: %s", self.last_sync - started,
                         self.matcher.status()["indexes"])
            except Exception:
                log.exception("loading the matcher failed; retrying in %.0f s", LOAD_RETRY_S)
                self._stop.wait(LOAD_RETRY_S)
        try:
            while not self._stop.is_set():
                self._wait_for_changes()
                if self._stop.is_set():
                    break
                self.sync_now()
                self._maybe_snapshot()
        finally:
            self._close_listener()
        if self._snapshotter is not None:
            self._snapshotter.join()
        if self.matcher is not None and self.snapshot_every_s > 0:
            self._snapshot()

    # --- waking up ---------------------------------------------------------------------------

    def _wait_for_changes(self) -> None:
        """Block until a NOTIFY arrives or ``poll_s`` passes (plain sleep without a listener)."""
        listener = self._listener or self._open_listener()
        if listener is None:
            self._stop.wait(self.poll_s)
            return
        try:
            for _ in listener.notifies(timeout=self.poll_s, stop_after=1):
                pass
        except Exception:
            log.warning("change-log listener lost; polling every %.2f s until it is back",
                        self.poll_s, exc_info=True)
            self._close_listener()

    def _open_listener(self):
        """A psycopg connection LISTENing on the change channel; None on SQLite or failure."""
        if not self.listen or time.monotonic() < self._listen_retry_at:
            return None
        url = self.runtime.engine.url
        if url.get_backend_name() != "postgresql":
            self.listen = False
            return None
        import psycopg

        try:
            conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except Exception:
            log.warning("cannot LISTEN for change-log notifications; polling", exc_info=True)
            self._listen_retry_at = time.monotonic() + LISTEN_RETRY_S
            return None
        self._listener = conn
        return conn

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            self._listen_retry_at = time.monotonic() + LISTEN_RETRY_S
            try:
                listener.close()
            except Exception:
                log.debug("closing the listener failed", exc_info=True)

    # --- syncing and snapshots -----------------------------------------------------------------

    def sync_now(self) -> None:
        """Apply the change log tail now (after a write in this process); errors are logged
        and show as a stale matcher in ``/readyz``, never as a failed request."""
        if self.matcher is None:
            return
        try:
            self.matcher.sync()
            self.last_sync = time.monotonic()
            if self._failing:
                log.info("matcher sync recovered")
            self._failing = False
        except Exception:
            if not self._failing:
                log.exception("matcher sync failed (will keep retrying)")
            self._failing = True

    def _maybe_snapshot(self) -> None:
        """Periodic snapshots run in their own thread: writing a 100M-signal index takes tens
        of seconds, during which this thread must keep syncing (readiness, new signals)."""
        due = time.monotonic() - self._last_snapshot >= self.snapshot_every_s
        busy = self._snapshotter is not None and self._snapshotter.is_alive()
        if self.snapshot_every_s > 0 and due and not busy:
            self._snapshotter = threading.Thread(
                target=self._snapshot, name="matcher-snapshot", daemon=True
            )
            self._snapshotter.start()

    def _snapshot(self) -> None:
        """Save when changes were applied since the last snapshot; failures are only logged
        (the previous snapshot stays valid, a restart just replays a longer tail)."""
        self._last_snapshot = time.monotonic()
        if self.matcher.applied_seq == self.snapshot_seq:
            return
        try:
            started, seq = time.monotonic(), self.matcher.applied_seq
            self.matcher.save()  # reflects at least ``seq``
            self.snapshot_seq = seq
            log.info("matcher snapshot at seq %d in %.2f s", self.snapshot_seq,
                     time.monotonic() - started)
        except Exception:
            log.exception("writing the matcher snapshot failed")

    def status(self) -> dict | None:
        if self.matcher is None:
            return None
        return {
            **self.matcher.status(),
            "ready": self.ready,
            "sync_age_s": round(time.monotonic() - self.last_sync, 3),
            "listening": self.listening,
            "snapshot_seq": self.snapshot_seq,
        }
