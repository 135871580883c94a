"""Login sessions: random cookie value (stored hashed), CSRF token, idle and absolute expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from countersignal.auth import Principal, User, verify_password
from countersignal.db import utcnow
from countersignal.errors import Forbidden, Unauthorized
from countersignal.web.models import WebSession

COOKIE = "cs_session"
IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def login(session: Session, email: str, password: str) -> tuple[str, User]:
    """Check the password; return the new session's cookie value and the user."""
    user = verify_password(session, email=email, password=password)
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            id_hash=_hash(cookie),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE,
        )
    )
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    return cookie, user


def resolve(session: Session, cookie: str | None) -> tuple[Principal, WebSession, User]:
    """The principal behind a session cookie, or :class:`Unauthorized`."""
    if not cookie:
        raise Unauthorized("please log in")
    row = session.get(WebSession, _hash(cookie))
    now = utcnow()
    if row is None or row.expires_at < now or now - row.last_seen_at > IDLE:
        raise Unauthorized("your session has ended; please log in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("please log in")
    row.last_seen_at = now
    return Principal.for_user(user), row, user


def check_csrf(row: WebSession, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(row.csrf_token, submitted):
        raise Forbidden("the form's security token is missing or stale; reload the page")


def logout(session: Session, cookie: str | None) -> None:
    if cookie:
        session.execute(delete(WebSession).where(WebSession.id_hash == _hash(cookie)))


def sessions_of(session: Session, user_id: str) -> list[WebSession]:
    return list(session.scalars(select(WebSession).where(WebSession.user_id == user_id)))
