"""Who is calling: the :class:`Principal` every service function takes, and the checks on it.

A principal is built by :func:`countersignal.auth.authenticate_token` (API tokens), by
:meth:`Principal.for_user` (after a password login), or by :meth:`Principal.system` for the
trusted local operator (CLI, bootstrap, scheduled jobs), which is not bound to one organisation.
Services scope every query with :meth:`Principal.own` and check single records with
:func:`require_own`, so one tenant never sees another's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from countersignal.audit import Actor
from countersignal.auth.models import User
from countersignal.auth.permissions import PERMISSIONS, permissions_for
from countersignal.errors import Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its organisation, user and/or token, roles and scopes."""

    organisation_id: str | None
    user_id: str | None
    token_id: str | None
    roles: frozenset[str]
    scopes: frozenset[str] = frozenset()
    system_name: str | None = None

    @classmethod
    def system(cls, name: str = "cli") -> Principal:
        """The local operator: every permission, every organisation. Never hand one to a
        remote caller."""
        return cls(None, None, None, frozenset(), system_name=name)

    @classmethod
    def for_user(cls, user: User) -> Principal:
        """A user who proved their password (web login); no token involved."""
        return cls(user.organisation_id, user.id, None, frozenset(user.roles))

    @property
    def is_system(self) -> bool:
        return self.system_name is not None

    @property
    def permissions(self) -> frozenset[str]:
        if self.is_system:
            return frozenset(PERMISSIONS)
        return permissions_for(self.roles, self.scopes)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def owns(self, organisation_id: str | None) -> bool:
        """Whether a record of ``organisation_id`` is this caller's to see."""
        return self.is_system or (
            organisation_id is not None and organisation_id == self.organisation_id
        )

    def own(self, column: InstrumentedAttribute) -> ColumnElement[bool]:
        """A WHERE clause keeping only this caller's rows: ``select(Bank).where(p.own(Bank.
        organisation_id))``. The system principal sees every organisation."""
        return true() if self.is_system else column == self.organisation_id

    def organisation_for(self, organisation_id: str | None = None) -> str:
        """The organisation a write is for: the caller's own, or (system callers, which
        belong to none) the one they name. Naming another organisation finds nothing."""
        if self.is_system:
            if not organisation_id:
                raise InvalidInput("organisation_id is required for system callers")
            return organisation_id
        if organisation_id not in (None, self.organisation_id):
            raise NotFound("organisation not found")
        assert self.organisation_id is not None
        return self.organisation_id

    @property
    def actor(self) -> Actor:
        """How this caller appears in the audit log."""
        if self.is_system:
            return Actor.system(self.system_name or "system")
        if self.user_id is not None:
            return Actor("user", self.user_id, self.token_id)
        if self.token_id is not None:
            return Actor("token", self.token_id)
        raise Forbidden("principal has neither user nor token")


def require(principal: Principal, permission: str) -> None:
    """Raise :class:`Forbidden` unless ``principal`` has ``permission``."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")  # a programming error
    if not principal.can(permission):
        raise Forbidden(f"this action needs the {permission!r} permission")


def require_own(principal: Principal, organisation_id: str | None, *, what: str = "record") -> None:
    """Raise :class:`NotFound` for another organisation's record: callers outside a tenant
    learn nothing, not even that it exists."""
    if not principal.owns(organisation_id):
        raise NotFound(f"{what} not found")
