"""Organisations and users: create, list, passwords, (de)activation. Every change is audited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from countersignal.audit import Target, record
from countersignal.auth.models import ORGANISATION_KINDS, Organisation, User
from countersignal.auth.passwords import hash_password, hasher, needs_rehash, password_matches
from countersignal.auth.permissions import check_roles
from countersignal.auth.principal import Principal, require, require_own
from countersignal.db import new_id
from countersignal.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
LOGIN_FAILED = "wrong email or password"


def clean_name(value: str, what: str, max_length: int = 200) -> str:
    """Trimmed, non-empty, printable, bounded: names end up in tables, logs and HTML."""
    value = (value or "").strip()
    if not value or len(value) > max_length or not value.isprintable():
        raise InvalidInput(f"{what} must be 1 to {max_length} printable characters")
    return value


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise InvalidInput(f"not an email address: {email!r}")
    return email


def _flush_unique(session: Session, what: str) -> None:
    """Flush, turning a lost race on a unique column into :class:`Conflict`."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc


def create_organisation(
    session: Session, *, by: Principal, name: str, kind: str, country: str
) -> Organisation:
    """A new tenant. Operator-only (the system principal: CLI or bootstrap)."""
    if not by.is_system:
        raise Forbidden("creating organisations is an operator action")
    name = clean_name(name, "organisation name")
    if kind not in ORGANISATION_KINDS:
        raise InvalidInput(f"organisation kind must be one of {list(ORGANISATION_KINDS)}")
    country = (country or "").strip().upper()
    if not COUNTRY_PATTERN.match(country):
        raise InvalidInput("country must be an ISO 3166-1 alpha-2 code such as 'DE'")
    if session.scalar(select(Organisation.id).where(Organisation.name == name)):
        raise Conflict(f"organisation {name!r} already exists")
    org = Organisation(id=new_id("org"), name=name, kind=kind, country=country)
    session.add(org)
    _flush_unique(session, f"organisation {name!r}")
    record(
        session,
        actor=by.actor,
        action="organisation.create",
        target=Target("organisation", org.id),
        organisation_id=org.id,
        details={"name": name, "kind": kind, "country": country},
    )
    return org


def list_organisations(session: Session, *, by: Principal) -> list[Organisation]:
    """Every organisation for the operator; one's own otherwise."""
    query = select(Organisation).where(by.own(Organisation.id)).order_by(Organisation.name)
    return list(session.scalars(query))


def get_organisation(session: Session, organisation_id: str, *, by: Principal) -> Organisation:
    require_own(by, organisation_id, what="organisation")
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def find_organisation(session: Session, id_or_name: str, *, by: Principal) -> Organisation:
    """An organisation by id or by exact name (what people type at the command line)."""
    org_id = session.scalar(
        select(Organisation.id).where(
            (Organisation.id == id_or_name) | (Organisation.name == id_or_name)
        )
    )
    return get_organisation(session, org_id or id_or_name, by=by)


def create_user(
    session: Session,
    *,
    by: Principal,
    organisation_id: str,
    email: str,
    display_name: str,
    roles: Sequence[str],
    password: str | None = None,
) -> User:
    """A person in an organisation. Without a password they can only use API tokens."""
    require(by, "admin")
    get_organisation(session, organisation_id, by=by)
    email = normalise_email(email)
    roles = check_roles(roles)
    user = User(
        id=new_id("usr"),
        organisation_id=organisation_id,
        email=email,
        display_name=clean_name(display_name, "display name"),
        password_hash=hash_password(password) if password is not None else None,
        active=True,
        roles=roles,
    )
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email!r} already exists")
    session.add(user)
    _flush_unique(session, f"user {email!r}")
    record(
        session,
        actor=by.actor,
        action="user.create",
        target=Target("user", user.id),
        organisation_id=organisation_id,
        details={"email": email, "roles": roles},
    )
    return user


def get_user(session: Session, user_id: str, *, by: Principal) -> User:
    user = session.get(User, user_id)
    if user is None or not by.owns(user.organisation_id):
        raise NotFound("user not found")
    return user


def list_users(
    session: Session, *, by: Principal, organisation_id: str | None = None
) -> list[User]:
    """Users of ``organisation_id`` (default: the caller's own organisation)."""
    require(by, "admin")
    query = select(User).where(by.own(User.organisation_id)).order_by(User.email)
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    return list(session.scalars(query))


def set_password(session: Session, user_id: str, password: str, *, by: Principal) -> None:
    """Set a user's password: the user themselves, or an admin of their organisation."""
    user = get_user(session, user_id, by=by)
    if by.user_id != user.id:
        require(by, "admin")
    user.password_hash = hash_password(password)
    record(
        session,
        actor=by.actor,
        action="user.password_set",
        target=Target("user", user.id),
        organisation_id=user.organisation_id,
    )


def set_user_active(session: Session, user_id: str, active: bool, *, by: Principal) -> User:
    """Deactivate (or reactivate) a user: an inactive user cannot log in and their tokens stop
    working at once."""
    require(by, "admin")
    user = get_user(session, user_id, by=by)
    if user.active != active:
        user.active = active
        record(
            session,
            actor=by.actor,
            action="user.activate" if active else "user.deactivate",
            target=Target("user", user.id),
            organisation_id=user.organisation_id,
        )
    return user


def verify_password(session: Session, *, email: str, password: str) -> User:
    """The active user with this email and password, or :class:`Unauthorized` (same message
    and similar time whether the email, the password or the account state was wrong).

    Upgrades the stored hash when argon2's parameters changed since it was made.
    """
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    user = session.scalar(select(User).where(User.email == email)) if email else None
    stored = user.password_hash if user is not None else None
    if not password_matches(stored, password) or user is None or not user.active:
        raise Unauthorized(LOGIN_FAILED)
    if needs_rehash(stored):
        user.password_hash = hasher.hash(password)  # no policy check: it was accepted before
    return user
