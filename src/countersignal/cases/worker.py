"""The background worker: webhook deliveries, removal-order escalations, withheld notices
released, and expired evidence purged.

Embedded default: :meth:`Worker.start` runs it in a daemon thread inside the API process.
Production: ``countersignal worker`` runs the same loop in its own process (several may run;
every job is safe to run concurrently). ``run_once`` is what tests call with an explicit ``now``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from countersignal.actions.vault import Vault, purge_expired
from countersignal.actions.webhooks import DeliveryReport, RetryPolicy, deliver_due
from countersignal.cases.effects import release_withheld_notices
from countersignal.cases.orders import Notifier, WebhookNotifier, run_escalations
from countersignal.db import transaction, utcnow

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    escalations: list[tuple[str, int]] = field(default_factory=list)
    notices_released: int = 0
    purged: int = 0
    deliveries: DeliveryReport = field(default_factory=DeliveryReport)


@dataclass
class Worker:
    sessions: sessionmaker[Session]
    vault: Vault
    notifier: Notifier = field(default_factory=WebhookNotifier)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    interval_s: float = 2.0
    client: httpx.Client | None = None
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def run_once(self, now: datetime | None = None) -> TickReport:
        """One pass of every job. Escalations run before deliveries so a warning due now goes
        out in the same pass."""
        now = now or utcnow()
        report = TickReport()
        with transaction(self.sessions) as session:
            report.escalations = run_escalations(session, self.notifier, now=now)
        with transaction(self.sessions) as session:
            report.notices_released = release_withheld_notices(session, now=now)
        with transaction(self.sessions) as session:
            report.purged = purge_expired(session, self.vault, now=now)
        report.deliveries = deliver_due(self.sessions, keyring=self.vault.keyring,
                                        client=self.client, now=now, policy=self.policy)
        return report

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("worker pass failed")
            self._stop.wait(self.interval_s)

    def start(self) -> Worker:
        """Run in a daemon thread (the embedded default)."""
        self._thread = threading.Thread(target=self.run_forever, name="countersignal-worker",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def worker_for(runtime, **kwargs) -> Worker:
    """A worker over a :class:`countersignal.runtime.Runtime`'s database and settings."""
    return Worker(runtime.sessions, Vault.from_settings(runtime.settings), **kwargs)
