"""The role → permission table and the Principal's checks (no database needed)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from countersignal.audit import Actor
from countersignal.auth import PERMISSIONS, ROLE_PERMISSIONS, Principal, require, require_own
from countersignal.auth.models import ApiToken
from countersignal.auth.permissions import check_roles, check_scopes, permissions_for
from countersignal.errors import Forbidden, InvalidInput, NotFound


def test_every_role_grants_only_known_permissions_and_every_permission_is_granted():
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert granted == set(PERMISSIONS)


def test_separation_of_duties():
    assert "cases:decide" not in ROLE_PERMISSIONS["admin"]
    assert "vault:read" not in ROLE_PERMISSIONS["admin"]
    assert "admin" not in ROLE_PERMISSIONS["platform-client"]
    assert ROLE_PERMISSIONS["partner"] == {"banks:read", "exchange"}


def test_scopes_only_narrow():
    assert permissions_for(["curator"], ["banks:read"]) == {"banks:read"}
    assert permissions_for(["partner"], ["banks:write"]) == frozenset()
    assert permissions_for(["partner", "auditor"]) == (
        ROLE_PERMISSIONS["partner"] | ROLE_PERMISSIONS["auditor"]
    )


def test_unknown_roles_and_scopes_are_refused():
    assert check_roles(["reviewer", "admin", "reviewer"]) == ["admin", "reviewer"]
    with pytest.raises(InvalidInput, match="superuser"):
        check_roles(["superuser"])
    with pytest.raises(InvalidInput, match="banks:delete"):
        check_scopes(["banks:delete"])


def test_require_and_tenancy():
    reviewer = Principal("org_a", "usr_1", "tok_1", frozenset({"reviewer"}))
    require(reviewer, "cases:decide")
    with pytest.raises(Forbidden, match="audit:read"):
        require(reviewer, "audit:read")
    with pytest.raises(ValueError):
        require(reviewer, "no-such-permission")
    require_own(reviewer, "org_a")
    with pytest.raises(NotFound, match="case not found"):
        require_own(reviewer, "org_b", what="case")
    with pytest.raises(NotFound):
        require_own(reviewer, None)
    operator = Principal.system()
    require(operator, "vault:read")
    require_own(operator, "org_b")


def test_own_clause_scopes_queries():
    principal = Principal("org_a", None, "tok_1", frozenset({"admin"}))
    sql = str(select(ApiToken).where(principal.own(ApiToken.organisation_id)))
    assert "api_tokens.organisation_id = :organisation_id_1" in sql
    assert "WHERE true" in str(select(ApiToken).where(Principal.system().own(ApiToken.id)))


def test_actor_for_the_audit_log():
    assert Principal("o", "usr_1", "tok_1", frozenset()).actor == Actor("user", "usr_1", "tok_1")
    assert Principal("o", None, "tok_2", frozenset()).actor == Actor("token", "tok_2")
    assert Principal.system("scheduler").actor == Actor("system", "scheduler")
