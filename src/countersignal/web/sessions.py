"""Login sessions: random cookie value (stored hashed), CSRF token, idle and absolute expiry;
and the login form's own CSRF token, before there is a session.

Login CSRF: without a token, another site could post its own credentials to ``/ui/login`` from
the victim's browser and so log the victim in as the attacker (whatever the victim then
reviews or writes is the attacker's to read). The login form therefore carries a signed
double-submit token: ``GET /ui/login`` sets a random nonce in a cookie (``HttpOnly``,
``SameSite=Strict``, path ``/ui/login``) and puts ``issued.HMAC(key, nonce.issued)`` in the
form; the POST must bring both, matching, and no older than ``LOGIN_FORM_TTL``. A cross-site
form has neither the cookie (SameSite) nor a token for it. The HMAC key is derived from the
deployment's master key (:data:`countersignal.actions.crypto.LOGIN_CSRF`), so every worker
process checks tokens the others issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
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
LOGIN_COOKIE = "cs_login"
LOGIN_COOKIE_PATH = "/ui/login"
LOGIN_FORM_TTL = timedelta(hours=2)
LOGIN_CSRF_REFUSED = (
    "The login form's security token is missing or stale (the form may be old, or was sent "
    "from another site). Nobody was logged in; please log in again from this page."
)


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


def _login_mac(key: bytes, nonce: str, issued: int) -> str:
    mac = hmac.new(key, f"{nonce}.{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue_login_token(key: bytes, now: float | None = None) -> tuple[str, str]:
    """A fresh (cookie nonce, form token) pair for one rendering of the login form."""
    nonce = secrets.token_urlsafe(32)
    issued = int(time.time() if now is None else now)
    return nonce, f"{issued}.{_login_mac(key, nonce, issued)}"


def check_login_token(
    key: bytes, cookie: str | None, submitted: str | None, now: float | None = None
) -> None:
    """Raise :class:`Forbidden` unless ``submitted`` is the token issued with ``cookie``, and
    is not older than ``LOGIN_FORM_TTL``."""
    if not cookie or not submitted or "." not in submitted:
        raise Forbidden(LOGIN_CSRF_REFUSED)
    issued_text, _mac = submitted.split(".", 1)
    expected = f"{issued_text}.{_login_mac(key, cookie, int(issued_text))}" \
        if issued_text.isdigit() and len(issued_text) < 12 else ""
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise Forbidden(LOGIN_CSRF_REFUSED)
    age = (time.time() if now is None else now) - int(issued_text)
    if not -60 <= age <= LOGIN_FORM_TTL.total_seconds():
        raise Forbidden(LOGIN_CSRF_REFUSED)
