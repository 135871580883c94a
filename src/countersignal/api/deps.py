"""FastAPI dependencies every router uses. The contract for routers written by others:

- ``get_runtime`` -> :class:`~countersignal.runtime.Runtime` (settings, engine, sessions).
- ``get_session`` -> a SQLAlchemy ``Session`` for this request. **Routes commit**: a route that
  changes state calls ``audit.record(...)`` and then ``session.commit()`` itself, before it
  returns, so a failed commit is the client's error response and never a success that did not
  happen. Anything not committed is rolled back when the request ends.
- ``get_principal`` -> :class:`~countersignal.auth.Principal` from ``Authorization: Bearer
  cs_...`` (401 problem otherwise), after the per-token rate limit (429 with Retry-After).
- ``requires("banks:write")`` -> a dependency returning the principal when it holds that
  permission (403 problem otherwise). Scope every query with ``principal.own(Model.org_col)``
  or the service function's ``organisation_id``.
- ``get_matcher`` -> the loaded :class:`~countersignal.index.matcher.Matcher` (503 until ready);
  ``sync_matcher(request)`` after committing signal changes.
- ``audit_reason`` -> the optional ``X-Audit-Reason`` header, for ``audit.record(reason=...)``.

Typical route::

    @router.post("/v1/things", status_code=201)
    def create_thing(body: ThingIn, session: Session = Depends(get_session),
                     principal: Principal = Depends(requires("banks:write")),
                     reason: str | None = Depends(audit_reason)) -> ThingOut:
        thing = service.create(session, organisation_id=principal.organisation_id, ...)
        record(session, actor=principal.actor, action="thing.create",
               target=Target("thing", thing.id), organisation_id=principal.organisation_id,
               reason=reason)
        session.commit()
        return ThingOut.of(thing)
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from countersignal.api.keeper import MatcherKeeper
from countersignal.api.metrics import ApiMetrics
from countersignal.api.ratelimit import TokenBuckets
from countersignal.auth import Principal, authenticate_token, require
from countersignal.auth.permissions import PERMISSIONS
from countersignal.errors import RateLimited, Unauthorized, Unavailable
from countersignal.runtime import Runtime

MAX_CACHED_TOKENS = 10_000


class PrincipalCache:
    """Tokens that authenticated recently, keyed by SHA-256 of the secret, for ``ttl_s``.

    A revoked or expired token therefore keeps working for at most ``ttl_s`` seconds in a
    process that saw it just before; set ``COUNTERSIGNAL_API_AUTH_CACHE_S=0`` to check the
    database on every request. When an entry expires, one request re-checks the database while
    concurrent requests with the same token keep the old answer (for at most ``REFRESH_GRACE_S``
    more): otherwise every in-flight request of a busy client would query the database at once.
    """

    REFRESH_GRACE_S = 5.0

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._refreshing: set[str] = set()

    @staticmethod
    def _key(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def get(self, secret: str) -> Principal | None:
        """The cached principal, or ``None``: then the caller must authenticate and ``put``
        (or ``drop`` on failure)."""
        if self.ttl_s <= 0:
            return None
        key = self._key(secret)
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        if now < entry[1]:
            return entry[0]
        if key in self._refreshing and now < entry[1] + self.REFRESH_GRACE_S:
            return entry[0]
        self._refreshing.add(key)
        return None

    def put(self, secret: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= MAX_CACHED_TOKENS:
            self._entries.clear()
            self._refreshing.clear()
        key = self._key(secret)
        self._entries[key] = (principal, time.monotonic() + self.ttl_s)
        self._refreshing.discard(key)

    def drop(self, secret: str) -> None:
        key = self._key(secret)
        self._entries.pop(key, None)
        self._refreshing.discard(key)


@dataclass
class ApiState:
    """Everything one app instance shares between requests (``app.state.api``)."""

    runtime: Runtime
    keeper: MatcherKeeper
    metrics: ApiMetrics
    rate_limits: TokenBuckets
    auth_failures: TokenBuckets
    principals: PrincipalCache
    extra: dict = field(default_factory=dict)


def api_state(request: Request) -> ApiState:
    return request.app.state.api


async def get_runtime(request: Request) -> Runtime:
    return api_state(request).runtime


async def get_session(request: Request) -> AsyncIterator[Session]:
    session = api_state(request).runtime.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer cs_...`")


def _authenticate(runtime: Runtime, secret: str) -> Principal:
    with runtime.sessions.begin() as session:
        return authenticate_token(session, secret)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_principal(request: Request, credentials: Credentials) -> Principal:
    """The authenticated caller (401 without a valid token, 429 over the rate limit)."""
    return await _principal(request, credentials)


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None):
    state = api_state(request)
    client = request.client.host if request.client else "unknown"
    if credentials is None:
        raise Unauthorized("send an API token: 'Authorization: Bearer cs_...'")
    secret = credentials.credentials
    principal = state.principals.get(secret)
    if principal is None:
        state.auth_failures.peek(client)
        try:
            principal = await run_in_threadpool(_authenticate, state.runtime, secret)
        except Unauthorized:
            state.principals.drop(secret)
            # This failure is reported as such; the next attempt gets the 429.
            with contextlib.suppress(RateLimited):
                state.auth_failures.take(client)
            raise
        state.principals.put(secret, principal)
    state.rate_limits.take(principal.token_id or principal.user_id or "anonymous")
    request.state.principal = principal
    return principal


def requires(permission: str):
    """A dependency returning the caller when they hold ``permission`` (403 otherwise)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    # Authenticates itself rather than depending on get_principal: every dependency level
    # costs tens of microseconds per request on the hash-lookup path.
    async def dependency(request: Request, credentials: Credentials) -> Principal:
        principal = await _principal(request, credentials)
        require(principal, permission)
        return principal

    dependency.__name__ = f"requires_{permission.replace(':', '_')}"
    return dependency


def ready_matcher(request: Request):
    """This process's matcher (503 until its indexes are loaded and caught up)."""
    keeper = api_state(request).keeper
    if keeper.matcher is None or not keeper.matcher.ready:
        raise Unavailable("the match indexes are still loading; retry shortly")
    return keeper.matcher


async def get_matcher(request: Request):
    return ready_matcher(request)


def sync_matcher(request: Request) -> None:
    """Make this process's committed signal changes matchable at once (call after commit)."""
    api_state(request).keeper.sync_now()


async def audit_reason(
    x_audit_reason: Annotated[
        str | None,
        Header(max_length=500, description="why this change is made (kept in the audit log)"),
    ] = None,
) -> str | None:
    return x_audit_reason.strip() or None if x_audit_reason else None
