"""Keeps the matcher current in a background thread: load once, then poll the change log.

Writes through this process call :meth:`MatcherKeeper.sync_now` after they commit, so they are
matchable at once; writes by other processes (other API workers, the CLI, importers) appear
within one poll (``COUNTERSIGNAL_API_MATCHER_POLL_S``, default 0.5 s).
"""

from __future__ import annotations

import logging
import threading
import time

from countersignal.runtime import Runtime

log = logging.getLogger("countersignal.api.matcher")

LOAD_RETRY_S = 5.0


class MatcherKeeper:
    def __init__(self, runtime: Runtime, poll_s: float) -> None:
        self.runtime = runtime
        self.poll_s = max(poll_s, 0.05)
        self.matcher = None
        self.last_sync = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

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

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="matcher-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while self.matcher is None and not self._stop.is_set():
            try:
                started = time.monotonic()
                self.matcher = self.runtime.matcher
                self.last_sync = time.monotonic()
                log.info("matcher loaded in %.1f s: %s", self.last_sync - started,
                         self.matcher.status()["indexes"])
            except Exception:
                log.exception("loading the matcher failed; retrying in %.0f s", LOAD_RETRY_S)
                self._stop.wait(LOAD_RETRY_S)
        while not self._stop.wait(self.poll_s):
            self.sync_now()

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

    def status(self) -> dict | None:
        if self.matcher is None:
            return None
        return {
            **self.matcher.status(),
            "ready": self.ready,
            "sync_age_s": round(time.monotonic() - self.last_sync, 3),
        }
