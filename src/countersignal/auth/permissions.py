"""Roles and what they may do: the one table every permission check reads.

Roles (permissions are in ``ROLE_PERMISSIONS`` below):

- ``admin`` runs an organisation: its users, tokens and banks; reads its audit log.
- ``curator`` builds banks (items, signals, labels) and shares them with partners.
- ``reviewer`` decides cases and appeals; runs the responsible-reporting review.
- ``auditor`` oversees: audit log, cases, banks, and evidence (each read needs a reason).
- ``platform-client`` is a platform's machine client: submits content and signals, reads results.
- ``partner`` is a sharing partner's exchange client (TAXII).

Separation of duties: ``admin`` manages people and tokens but neither decides cases nor reads the
evidence vault; give a person several roles when one person does several jobs.
A token's ``scopes`` (permission names) can only narrow what its roles allow.
"""

from __future__ import annotations

from collections.abc import Iterable

from countersignal.errors import InvalidInput

PERMISSIONS: dict[str, str] = {
    "admin": "manage the organisation's users and API tokens",
    "audit:read": "read the organisation's audit log",
    "banks:read": "read banks, items and signals",
    "banks:write": "create and change banks, items, labels and opinions",
    "signals:write": "add signals to banks",
    "match": "submit content or signals for matching",
    "cases:read": "read cases, matches and decisions",
    "cases:decide": "decide cases and appeals",
    "vault:read": "read preserved evidence (each read is audited with a reason)",
    "exchange": "exchange signals with partners (TAXII)",
    "review": "run the responsible-reporting review",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "audit:read", "banks:read", "banks:write", "cases:read"}),
    "curator": frozenset({"banks:read", "banks:write", "signals:write", "match", "exchange"}),
    "reviewer": frozenset({"banks:read", "cases:read", "cases:decide", "match", "review"}),
    "auditor": frozenset({"audit:read", "banks:read", "cases:read", "vault:read"}),
    "platform-client": frozenset({"banks:read", "signals:write", "match", "cases:read"}),
    "partner": frozenset({"banks:read", "exchange"}),
}

ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)


def permissions_for(roles: Iterable[str], scopes: Iterable[str] = ()) -> frozenset[str]:
    """Union of the roles' permissions, narrowed to ``scopes`` when any are given."""
    granted = frozenset().union(*(ROLE_PERMISSIONS.get(role, frozenset()) for role in roles))
    scopes = frozenset(scopes)
    return granted & scopes if scopes else granted


def check_roles(roles: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated roles; unknown names are an error (typos must not grant nothing
    silently)."""
    roles = sorted(set(roles))
    unknown = [role for role in roles if role not in ROLE_PERMISSIONS]
    if unknown:
        raise InvalidInput(f"unknown role(s) {unknown}; known: {list(ROLES)}")
    return roles


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated scopes; each must be a known permission."""
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in PERMISSIONS]
    if unknown:
        raise InvalidInput(f"unknown scope(s) {unknown}; known: {list(PERMISSIONS)}")
    return scopes
