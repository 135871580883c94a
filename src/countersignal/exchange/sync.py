"""Pull from and push to partners over TAXII 2.1; per-partner status; the scheduled worker.

Pull keeps its place with the partner server's own ``X-TAXII-Date-Added-Last`` header (never
with objects' ``modified``: a partner's clock and versioning say nothing about what we have
read). Each page is applied and its checkpoint saved in one transaction, so a crash or a
timeout at any point resumes from the last page applied, and re-reading is harmless (ingest is
idempotent). A ``next`` chain is resumed when the server still honours it, else restarted from
the checkpoint.

A page that is not a valid TAXII envelope is retried with a halved ``limit`` (kept until the
feed is caught up) until the bad object is alone on a page; that page is then skipped (counted
in ``objects_rejected``, named in ``last_error``): one poisoned object cannot wedge a feed.
Failures back off exponentially per partner (to ``max_backoff_seconds``); one partner's outage
never delays another's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from countersignal.actions.crypto import DecryptionFailed, Keyring
from countersignal.db import transaction, utcnow
from countersignal.errors import CountersignalError, InvalidInput, NotFound
from countersignal.exchange import feed
from countersignal.exchange.client import PartnerEndpoint, TaxiiClient
from countersignal.exchange.ingest import IngestReport, expire_imports, ingest
from countersignal.exchange.models import Partner, SyncState, credential_sealer
from countersignal.exchange.policy import member_groups
from countersignal.exchange.settings import get_exchange_settings

log = logging.getLogger(__name__)
MAX_PAGES_PER_ROUND = 200
EXPIRY_EVERY_S = 60.0
# Renewed with every page applied, so only a dead worker's lease runs out.
LEASE = timedelta(minutes=5)


@dataclass
class SyncResult:
    partner_id: str
    pages: int = 0
    report: IngestReport = field(default_factory=IngestReport)
    sent: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _state(session: Session, partner_id: str) -> SyncState:
    state = session.get(SyncState, partner_id)
    if state is None:
        state = SyncState(partner_id=partner_id, consecutive_failures=0, push_positions={})
        session.add(state)
        session.flush()
    return state


def _partner(session: Session, partner_id: str) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner {partner_id!r}")
    return partner


def _client(endpoint: PartnerEndpoint) -> TaxiiClient:
    settings = get_exchange_settings()
    return TaxiiClient(
        endpoint,
        timeout=settings.request_timeout_seconds,
        max_bytes=settings.max_response_bytes,
    )


@contextmanager
def _leased(factory: sessionmaker[Session], partner_id: str) -> Iterator[bool]:
    """Hold the partner for one round so two workers never sync it at once; yields whether
    the lease was won. The lease expires by itself if this process dies."""
    now = utcnow()
    with transaction(factory) as s:
        _state(s, partner_id)
    with transaction(factory) as s:
        won = s.execute(
            update(SyncState)
            .where(
                SyncState.partner_id == partner_id,
                or_(SyncState.lease_until.is_(None), SyncState.lease_until < now),
            )
            .values(lease_until=now + LEASE)
        ).rowcount
    try:
        yield bool(won)
    finally:
        if won:
            with transaction(factory) as s:
                s.execute(
                    update(SyncState)
                    .where(SyncState.partner_id == partner_id)
                    .values(lease_until=None)
                )


# --- pull ----------------------------------------------------------------------------------


def pull(
    factory: sessionmaker[Session],
    partner_id: str,
    *,
    client: TaxiiClient | None = None,
    keyring: Keyring | None = None,
) -> SyncResult:
    """Fetch everything new from the partner's collection and apply it. ``keyring`` opens
    the partner's stored credentials (default: this process's key)."""
    with _leased(factory, partner_id) as won:
        if not won:
            return SyncResult(partner_id, error="another worker is syncing this partner")
        return _pull(factory, partner_id, client, keyring)


def _endpoint(factory, partner_id: str, keyring: Keyring | None, action: str) -> PartnerEndpoint:
    """The partner's endpoint for a pull or push (the attempt is recorded either way);
    :class:`InvalidInput` when it has no collection to ``action``."""
    with transaction(factory) as s:
        partner = _partner(s, partner_id)
        _state(s, partner_id).last_attempt_at = utcnow()
        endpoint = PartnerEndpoint.of(partner, credential_sealer(keyring) if keyring else None)
    if not endpoint.collection_id:
        raise InvalidInput(f"partner has no collection id to {action}")
    return endpoint


def _pull(factory, partner_id: str, client: TaxiiClient | None, keyring) -> SyncResult:
    settings = get_exchange_settings()
    result = SyncResult(partner_id)
    try:
        endpoint = _endpoint(factory, partner_id, keyring, "pull")
    except (DecryptionFailed, InvalidInput) as exc:
        return _failed(factory, result, exc)
    own_client = client is None
    client = client or _client(endpoint)
    try:
        while result.pages < MAX_PAGES_PER_ROUND:
            more = _pull_page(factory, client, endpoint, partner_id, settings, result)
            if not more:
                break
    except CountersignalError as exc:
        return _failed(factory, result, exc)
    finally:
        if own_client:
            client.close()
    busy = result.pages >= MAX_PAGES_PER_ROUND
    if not busy:
        with transaction(factory) as s:
            _state(s, partner_id).page_limit = None  # caught up: full pages again
    _succeeded(factory, result, busy=busy)
    return result


def _pull_page(factory, client, endpoint, partner_id, settings, result: SyncResult) -> bool:
    """Fetch and apply one page; returns whether more pages follow."""
    with factory() as s:
        state = _state(s, partner_id)
        checkpoint, chain = state.pull_added_after, dict(state.pull_next or {})
        limit = state.page_limit or settings.page_limit
    try:
        if chain:
            resp = client.get_objects(
                endpoint.collection_id,
                added_after=chain.get("added_after"),
                next_token=chain["next"],
                limit=limit,
            )
        else:
            resp = client.get_objects(endpoint.collection_id, added_after=checkpoint, limit=limit)
    except (InvalidInput, NotFound) as exc:
        if not chain:
            raise
        # The server forgot the chain (expired, restarted): restart from the checkpoint.
        log.info("partner %s dropped its next chain (%s); restarting", partner_id, exc)
        with transaction(factory) as s:
            _state(s, partner_id).pull_next = None
        return True
    last_added = resp.headers.get("X-TAXII-Date-Added-Last")
    try:
        if resp.malformed:
            raise InvalidInput(resp.malformed)
        objects, more, next_token = _envelope(resp.body)
    except InvalidInput as exc:
        return _malformed_page(factory, partner_id, limit, last_added, exc, result)
    with transaction(factory) as s:
        partner = _partner(s, partner_id)
        report = ingest(s, partner, objects)
        state = _state(s, partner_id)
        if last_added:
            state.pull_added_after = last_added
        if more and next_token:
            start = chain.get("added_after") if chain else checkpoint
            state.pull_next = {"next": next_token, "added_after": start}
        else:
            state.pull_next = None
        state.objects_received += report.received
        state.objects_rejected += len(report.errors)
        state.lease_until = utcnow() + LEASE
    result.pages += 1
    result.report.merge(report)
    if more and not next_token and not last_added:
        raise InvalidInput("the partner says more objects follow but gives no way to get them")
    return bool(more) and bool(objects)


def _envelope(body: object) -> tuple[list, bool, str | None]:
    if body is None:
        return [], False, None  # TAXII allows an empty body for an empty page
    if not isinstance(body, dict):
        raise InvalidInput("the page is not a TAXII envelope (JSON object)")
    objects = body.get("objects", [])
    more = body.get("more", False)
    next_token = body.get("next")
    if not isinstance(objects, list) or not isinstance(more, bool):
        raise InvalidInput("the envelope's 'objects' is not a list or 'more' not a boolean")
    if next_token is not None and not isinstance(next_token, str):
        raise InvalidInput("the envelope's 'next' is not a string")
    return objects, more, next_token


def _malformed_page(factory, partner_id, limit, last_added, exc, result) -> bool:
    if limit > 1 or not last_added:
        narrower = max(1, limit // 2)
        with transaction(factory) as s:
            _state(s, partner_id).page_limit = narrower
        if limit > 1:
            raise InvalidInput(f"{exc.message}; retrying with limit {narrower}")
        raise exc
    with transaction(factory) as s:
        state = _state(s, partner_id)
        state.pull_added_after = last_added
        state.pull_next = None
        state.page_limit = None  # past the poisoned object: full pages again
        state.objects_rejected += 1
        state.last_error = f"skipped an unreadable page ending at {last_added}: {exc.message}"
    result.report.errors.append((last_added, exc.message))
    return True


def _failed(factory, result: SyncResult, exc: CountersignalError) -> SyncResult:
    settings = get_exchange_settings()
    result.error = exc.message
    with transaction(factory) as s:
        partner = s.get(Partner, result.partner_id)
        state = _state(s, result.partner_id)
        state.consecutive_failures += 1
        state.last_error = exc.message[:2000]
        base = _poll_seconds(partner, settings)
        delay = min(base * 2 ** min(state.consecutive_failures, 20), settings.max_backoff_seconds)
        state.next_attempt_at = utcnow() + timedelta(seconds=delay)
    log.warning("exchange with partner %s failed: %s", result.partner_id, exc.message)
    return result


def _succeeded(factory, result: SyncResult, *, busy: bool = False) -> None:
    settings = get_exchange_settings()
    with transaction(factory) as s:
        partner = s.get(Partner, result.partner_id)
        state = _state(s, result.partner_id)
        state.consecutive_failures = 0
        state.last_success_at = utcnow()
        if not (state.last_error or "").startswith("skipped"):
            state.last_error = None  # a skipped-page warning stays visible until replaced
        delay = 0 if busy else _poll_seconds(partner, settings)
        state.next_attempt_at = utcnow() + timedelta(seconds=delay)


def _poll_seconds(partner: Partner | None, settings) -> float:
    return (partner.poll_seconds if partner else None) or settings.poll_seconds


# --- push ----------------------------------------------------------------------------------


def push(
    factory: sessionmaker[Session],
    partner_id: str,
    *,
    client: TaxiiClient | None = None,
    keyring: Keyring | None = None,
) -> SyncResult:
    """POST to the partner's collection what its sharing groups let it read and it has not
    been sent yet (our indicators, opinions, sightings), in feed order with checkpoints."""
    with _leased(factory, partner_id) as won:
        if not won:
            return SyncResult(partner_id, error="another worker is syncing this partner")
        return _push(factory, partner_id, client, keyring)


def _push(factory, partner_id: str, client: TaxiiClient | None, keyring) -> SyncResult:
    settings = get_exchange_settings()
    result = SyncResult(partner_id)
    try:
        endpoint = _endpoint(factory, partner_id, keyring, "push to")
    except (DecryptionFailed, InvalidInput) as exc:
        return _failed(factory, result, exc)
    with factory() as s:
        groups = [g.id for g, _ in member_groups(s, _partner(s, partner_id))]
    own_client = client is None
    client = client or _client(endpoint)
    try:
        for group_id in groups:
            more = True
            while more and result.pages < MAX_PAGES_PER_ROUND:
                more = _push_page(factory, client, endpoint, partner_id, group_id, settings, result)
    except CountersignalError as exc:
        return _failed(factory, result, exc)
    finally:
        if own_client:
            client.close()
    _succeeded(factory, result)
    return result


def _push_page(factory, client, endpoint, partner_id, group_id, settings, result) -> bool:
    from countersignal.exchange.models import SharingGroup

    with factory() as s:
        partner = _partner(s, partner_id)
        state = _state(s, partner_id)
        token = (state.push_positions or {}).get(group_id)
        reader = feed.Reader(s.get(SharingGroup, group_id), partner)
        filters = feed.Filters(
            types=frozenset({"indicator", "opinion", "sighting", "identity"}),
            after=feed.Position.decode(token) if token else None,
            limit=settings.page_limit,
        )
        page = feed.read_page(s, reader, filters)
        objects = [entry.build() for entry in page.entries]
    if not objects:
        return False
    status = client.add_objects(endpoint.collection_id, objects)
    failures = status.get("failure_count", 0) if isinstance(status, dict) else 0
    with transaction(factory) as s:
        state = _state(s, partner_id)
        state.push_positions = {
            **(state.push_positions or {}),
            group_id: page.entries[-1].position.encode(),
        }
        state.lease_until = utcnow() + LEASE
        state.objects_sent += len(objects) - int(failures or 0)
        state.objects_rejected += int(failures or 0)
    result.sent += len(objects)
    result.pages += 1
    return page.more


# --- status and the worker -----------------------------------------------------------------


@dataclass(frozen=True)
class PartnerStatus:
    """What the API and UI show per partner."""

    partner_id: str
    name: str
    enabled: bool
    healthy: bool
    checkpoint: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    next_attempt_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    objects_received: int
    objects_sent: int
    objects_rejected: int

    def as_dict(self) -> dict:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()
        }


def partner_status(session: Session, organisation_id: str) -> list[PartnerStatus]:
    """Per-partner sync status of this organisation's partners."""
    rows = session.execute(
        select(Partner, SyncState)
        .outerjoin(SyncState, SyncState.partner_id == Partner.id)
        .where(Partner.organisation_id == organisation_id)
        .order_by(Partner.name)
    ).all()
    out = []
    for partner, state in rows:
        failures = state.consecutive_failures if state else 0
        out.append(
            PartnerStatus(
                partner_id=partner.id,
                name=partner.name,
                enabled=partner.enabled,
                healthy=partner.enabled and failures == 0,
                checkpoint=state.pull_added_after if state else None,
                last_attempt_at=state.last_attempt_at if state else None,
                last_success_at=state.last_success_at if state else None,
                next_attempt_at=state.next_attempt_at if state else None,
                consecutive_failures=failures,
                last_error=state.last_error if state else None,
                objects_received=state.objects_received if state else 0,
                objects_sent=state.objects_sent if state else 0,
                objects_rejected=state.objects_rejected if state else 0,
            )
        )
    return out


def due_partners(session: Session, now: datetime | None = None) -> list[str]:
    """Enabled partners with a server to talk to whose next attempt is due."""
    now = now or utcnow()
    rows = session.execute(
        select(Partner.id, SyncState.next_attempt_at)
        .outerjoin(SyncState, SyncState.partner_id == Partner.id)
        .where(Partner.enabled.is_(True), Partner.api_root_url.is_not(None))
        .where(Partner.pull_enabled.is_(True) | Partner.push_enabled.is_(True))
        .order_by(Partner.id)
    ).all()
    return [pid for pid, due in rows if due is None or due <= now]


def run_once(
    factory: sessionmaker[Session], *, expire: bool = True, keyring: Keyring | None = None
) -> list[SyncResult]:
    """One round: every due partner is pulled and/or pushed; expired imports decay."""
    results = []
    with factory() as s:
        due = due_partners(s)
        flags = {p.id: (p.pull_enabled, p.push_enabled) for p in s.scalars(select(Partner))}
    for partner_id in due:
        do_pull, do_push = flags.get(partner_id, (False, False))
        try:
            if do_pull:
                results.append(pull(factory, partner_id, keyring=keyring))
            if do_push:
                results.append(push(factory, partner_id, keyring=keyring))
        except Exception:  # a bug with one partner must not stop the others
            log.exception("exchange round failed for partner %s", partner_id)
    if expire:
        with transaction(factory) as s:
            expire_imports(s)
    return results


def run_worker(
    factory: sessionmaker[Session],
    stop: threading.Event,
    *,
    tick_seconds: float = 1.0,
    keyring: Keyring | None = None,
) -> None:
    """Run rounds until ``stop`` is set; wakes every ``tick_seconds`` to find due partners."""
    last_expiry = float("-inf")
    while not stop.is_set():
        now = time.monotonic()
        try:
            run_once(factory, expire=now - last_expiry >= EXPIRY_EVERY_S, keyring=keyring)
            last_expiry = now if now - last_expiry >= EXPIRY_EVERY_S else last_expiry
        except Exception:
            log.exception("exchange worker round failed")
        stop.wait(tick_seconds)
