"""API tokens: ``cs_<prefix>_<secret>``, shown once, stored as a SHA-256.

The 8-character prefix is kept in clear to find the row (and to tell tokens apart in lists);
the SHA-256 of the whole token string is compared with ``hmac.compare_digest``. Tokens carry
roles (for a user's token, at most the user's roles, re-checked at every use) and optional
scopes that narrow those roles' permissions further.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from countersignal.audit import Target, record
from countersignal.auth.accounts import clean_name, get_organisation, get_user
from countersignal.auth.models import ApiToken, User
from countersignal.auth.permissions import check_roles, check_scopes
from countersignal.auth.principal import Principal, require
from countersignal.db import new_id, utcnow
from countersignal.errors import InvalidInput, NotFound, Unauthorized

TOKEN_PATTERN = re.compile(r"^cs_([a-z0-9]{8})_([A-Za-z0-9]{40})$")
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 40  # 40 base-62 characters: about 238 bits
AUTH_FAILED = "invalid, expired or revoked API token"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is rewritten at most this often: a write per request would serialise."""

_DECOY_HASH = hashlib.sha256(b"no such token").hexdigest()


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    *,
    by: Principal,
    organisation_id: str,
    name: str,
    roles: Sequence[str],
    scopes: Sequence[str] = (),
    user_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret string, which is shown this once and never stored.

    ``user_id=None`` makes a service token (a platform's machine client). A user's token may
    carry only roles the user has. Needs ``admin`` in ``organisation_id``.
    """
    require(by, "admin")
    get_organisation(session, organisation_id, by=by)
    roles = check_roles(roles)
    if not roles:
        raise InvalidInput("a token needs at least one role")
    scopes = check_scopes(scopes)
    if user_id is not None:
        user = get_user(session, user_id, by=by)
        if user.organisation_id != organisation_id:
            raise NotFound("user not found")
        if not user.active:
            raise InvalidInput("cannot issue a token to an inactive user")
        extra = sorted(set(roles) - set(user.roles))
        if extra:
            raise InvalidInput(f"user {user.email} does not hold role(s) {extra}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at must be timezone-aware")
        if expires_at <= utcnow():
            raise InvalidInput("expires_at is in the past")

    prefix = _random(PREFIX_ALPHABET, 8)
    while session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)):
        prefix = _random(PREFIX_ALPHABET, 8)
    secret = f"cs_{prefix}_{_random(SECRET_ALPHABET, SECRET_LENGTH)}"
    token = ApiToken(
        id=new_id("tok"),
        organisation_id=organisation_id,
        user_id=user_id,
        name=clean_name(name, "token name"),
        prefix=prefix,
        secret_hash=token_hash(secret),
        roles=roles,
        scopes=scopes,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=by.actor,
        action="token.issue",
        target=Target("token", token.id),
        organisation_id=organisation_id,
        details={
            "name": token.name,
            "prefix": prefix,
            "user_id": user_id,
            "roles": roles,
            "scopes": scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, secret


def authenticate_token(session: Session, secret: str) -> Principal:
    """The principal a presented token stands for, or :class:`Unauthorized` with one message
    for every failure (unknown, malformed, wrong secret, expired, revoked, user inactive).

    Updates ``last_used_at`` (at most once a minute) in the caller's transaction.
    """
    match = TOKEN_PATTERN.match(secret or "")
    token = None
    if match:
        token = session.scalar(select(ApiToken).where(ApiToken.prefix == match.group(1)))
    presented = token_hash(secret or "")
    matches = hmac.compare_digest(token.secret_hash if token else _DECOY_HASH, presented)
    if token is None or not matches:
        raise Unauthorized(AUTH_FAILED)
    now = utcnow()
    if token.state(now) != "active":
        raise Unauthorized(AUTH_FAILED)
    roles = frozenset(token.roles)
    if token.user_id is not None:
        user = session.get(User, token.user_id)
        if user is None or not user.active:
            raise Unauthorized(AUTH_FAILED)
        roles &= frozenset(user.roles)
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id)
        .where(
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION)
        )
        .values(last_used_at=now)
    )
    return Principal(token.organisation_id, token.user_id, token.id, roles, frozenset(token.scopes))


def get_token(session: Session, token_id: str, *, by: Principal) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or not by.owns(token.organisation_id):
        raise NotFound("token not found")
    return token


def revoke_token(session: Session, token_id: str, *, by: Principal) -> ApiToken:
    """Revoke a token (an admin of its organisation, or the user it belongs to). Revoking a
    revoked token changes nothing."""
    token = get_token(session, token_id, by=by)
    if token.user_id is None or token.user_id != by.user_id:
        require(by, "admin")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(
            session,
            actor=by.actor,
            action="token.revoke",
            target=Target("token", token.id),
            organisation_id=token.organisation_id,
            details={"name": token.name, "prefix": token.prefix},
        )
    return token


def list_tokens(
    session: Session,
    *,
    by: Principal,
    organisation_id: str | None = None,
    include_inactive: bool = False,
) -> list[ApiToken]:
    """Tokens of ``organisation_id`` (default: the caller's own; the operator: all), newest
    first; expired and revoked ones only when asked."""
    require(by, "admin")
    query = select(ApiToken).where(by.own(ApiToken.organisation_id))
    if organisation_id is not None:
        query = query.where(ApiToken.organisation_id == organisation_id)
    if not include_inactive:
        query = query.where(
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()),
        )
    return list(session.scalars(query.order_by(ApiToken.created_at.desc())))
