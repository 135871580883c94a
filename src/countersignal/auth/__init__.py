"""Organisations, users, roles and API tokens; the :class:`Principal` every service takes.

    from countersignal.auth import authenticate_token, require

    principal = authenticate_token(session, bearer_token)   # or Unauthorized
    require(principal, "banks:write")                       # or Forbidden
    banks = session.scalars(select(Bank).where(principal.own(Bank.organisation_id)))

Roles and permissions live in one table, ``countersignal.auth.permissions``. Every change made
here (organisation, user, password, token) is written to the audit log in the same transaction.
"""

from countersignal.auth.accounts import (
    create_organisation,
    create_user,
    find_organisation,
    get_organisation,
    get_user,
    list_organisations,
    list_users,
    set_password,
    set_user_active,
    verify_password,
)
from countersignal.auth.demo import ensure_demo
from countersignal.auth.models import ORGANISATION_KINDS, ApiToken, Organisation, User
from countersignal.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_for
from countersignal.auth.principal import Principal, require, require_own
from countersignal.auth.tokens import (
    authenticate_token,
    get_token,
    issue_token,
    list_tokens,
    revoke_token,
)

__all__ = [
    "ORGANISATION_KINDS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "ApiToken",
    "Organisation",
    "Principal",
    "User",
    "authenticate_token",
    "create_organisation",
    "create_user",
    "ensure_demo",
    "find_organisation",
    "get_organisation",
    "get_token",
    "get_user",
    "issue_token",
    "list_organisations",
    "list_tokens",
    "list_users",
    "permissions_for",
    "require",
    "require_own",
    "revoke_token",
    "set_password",
    "set_user_active",
    "verify_password",
]
