"""Organisations, users and passwords: validation, tenancy, login, rehash, audit trail."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from countersignal.audit import list_events, verify
from countersignal.auth import (
    Principal,
    User,
    create_organisation,
    create_user,
    find_organisation,
    get_user,
    list_organisations,
    list_users,
    set_password,
    set_user_active,
    verify_password,
)
from countersignal.auth.passwords import hasher
from countersignal.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

PASSWORD = "correct horse battery"


def test_create_organisation_validates_and_is_audited(tenants):
    with tenants.factory() as session, session.begin():
        org = find_organisation(session, "Alpha", by=tenants.operator)
        assert (org.id, org.kind, org.country) == (tenants.org_a, "platform", "DE")
        assert org.created_at.tzinfo is not None
        with pytest.raises(Conflict):
            create_organisation(
                session, by=tenants.operator, name=" Alpha ", kind="partner", country="GB"
            )
        for kind, country in (("government", "GB"), ("partner", "GBR"), ("partner", "1A")):
            with pytest.raises(InvalidInput):
                create_organisation(
                    session, by=tenants.operator, name="X", kind=kind, country=country
                )
        with pytest.raises(Forbidden):
            create_organisation(session, by=tenants.admin_a, name="X", kind="partner", country="GB")
        with pytest.raises(InvalidInput):
            create_organisation(
                session, by=tenants.operator, name="\x00evil", kind="partner", country="GB"
            )
        created = list_events(session, action="organisation.create", organisation_id=org.id)
        assert [(e.actor_kind, e.actor_id, e.details["name"]) for e in created] == [
            ("system", "test", "Alpha")
        ]


def test_organisations_are_listed_per_tenant(tenants):
    with tenants.factory() as session:
        assert [o.name for o in list_organisations(session, by=tenants.operator)] == [
            "Alpha",
            "Beta",
        ]
        assert [o.name for o in list_organisations(session, by=tenants.admin_a)] == ["Alpha"]
        with pytest.raises(NotFound):
            find_organisation(session, "Beta", by=tenants.admin_a)
        with pytest.raises(NotFound):
            find_organisation(session, "Gamma", by=tenants.operator)


def test_create_user_rules(tenants):
    with tenants.factory() as session, session.begin():
        user = create_user(
            session,
            by=tenants.admin_a,
            organisation_id=tenants.org_a,
            email="  Rev@Alpha.example ",
            display_name="Rev",
            roles=["reviewer", "auditor", "reviewer"],
        )
        assert (user.email, user.roles, user.active) == (
            "rev@alpha.example",
            ["auditor", "reviewer"],
            True,
        )
        assert user.password_hash is None
        with pytest.raises(Conflict):  # emails are unique across the deployment
            create_user(
                session,
                by=tenants.admin_b,
                organisation_id=tenants.org_b,
                email="REV@alpha.example",
                display_name="x",
                roles=["reviewer"],
            )
        with pytest.raises(NotFound):  # another tenant's organisation
            create_user(
                session,
                by=tenants.admin_a,
                organisation_id=tenants.org_b,
                email="x@beta.example",
                display_name="x",
                roles=["reviewer"],
            )
        with pytest.raises(InvalidInput):
            create_user(
                session,
                by=tenants.admin_a,
                organisation_id=tenants.org_a,
                email="not-an-email",
                display_name="x",
                roles=["reviewer"],
            )
        with pytest.raises(InvalidInput):
            create_user(
                session,
                by=tenants.admin_a,
                organisation_id=tenants.org_a,
                email="y@alpha.example",
                display_name="y",
                roles=["root"],
            )
        with pytest.raises(InvalidInput):  # too short a password
            create_user(
                session,
                by=tenants.admin_a,
                organisation_id=tenants.org_a,
                email="y@alpha.example",
                display_name="y",
                roles=[],
                password="short",
            )
        reviewer = Principal.for_user(user)
        with pytest.raises(Forbidden):
            create_user(
                session,
                by=reviewer,
                organisation_id=tenants.org_a,
                email="z@alpha.example",
                display_name="z",
                roles=["admin"],
            )
        with pytest.raises(NotFound):
            get_user(session, user.id, by=tenants.admin_b)
        assert [u.email for u in list_users(session, by=tenants.admin_a)] == [
            "a@alpha.example",
            "rev@alpha.example",
        ]
        assert len(list_users(session, by=tenants.operator)) == 3
        event = list_events(session, action="user.create", target_id=user.id)[0]
        assert (event.actor_id, event.organisation_id) == (tenants.admin_a.user_id, tenants.org_a)


def _user_with_password(tenants, email="p@alpha.example", password=PASSWORD) -> str:
    with tenants.factory() as session, session.begin():
        return create_user(
            session,
            by=tenants.admin_a,
            organisation_id=tenants.org_a,
            email=email,
            display_name="P",
            roles=["reviewer"],
            password=password,
        ).id


def test_verify_password(tenants):
    user_id = _user_with_password(tenants)
    with tenants.factory() as session, session.begin():
        assert verify_password(session, email="P@alpha.example", password=PASSWORD).id == user_id
        failures = []
        for email, password in (
            ("p@alpha.example", PASSWORD + "!"),  # wrong password
            ("nobody@alpha.example", PASSWORD),  # unknown user
            ("a@alpha.example", PASSWORD),  # user without a password
            ("garbage", PASSWORD),  # not even an email
            ("p@alpha.example", "x" * 5000),  # oversized input
        ):
            with pytest.raises(Unauthorized) as caught:
                verify_password(session, email=email, password=password)
            failures.append(caught.value.message)
        assert len(set(failures)) == 1  # nothing tells the caller which part was wrong
        set_user_active(session, user_id, False, by=tenants.admin_a)
        with pytest.raises(Unauthorized):
            verify_password(session, email="p@alpha.example", password=PASSWORD)
        set_user_active(session, user_id, True, by=tenants.admin_a)
        verify_password(session, email="p@alpha.example", password=PASSWORD)
        actions = [e.action for e in list_events(session, target_id=user_id)]
        assert actions == ["user.activate", "user.deactivate", "user.create"]


def test_password_is_rehashed_when_parameters_change(tenants):
    user_id = _user_with_password(tenants)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with tenants.factory() as session, session.begin():
        session.get(User, user_id).password_hash = weak
    with tenants.factory() as session, session.begin():
        verify_password(session, email="p@alpha.example", password=PASSWORD)
    with tenants.factory() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == user_id))
    assert stored != weak
    assert not hasher.check_needs_rehash(stored)
    assert hasher.verify(stored, PASSWORD)
    assert PASSWORD not in stored


def test_set_password_self_or_admin(tenants):
    user_id = _user_with_password(tenants)
    with tenants.factory() as session, session.begin():
        me = Principal.for_user(get_user(session, user_id, by=tenants.admin_a))
        set_password(session, user_id, "a brand new passphrase", by=me)
        verify_password(session, email="p@alpha.example", password="a brand new passphrase")
        with pytest.raises(Forbidden):  # a non-admin cannot set someone else's
            set_password(session, tenants.admin_a.user_id, "another passphrase", by=me)
        with pytest.raises(NotFound):  # nor can another tenant's admin
            set_password(session, user_id, "another passphrase", by=tenants.admin_b)
        with pytest.raises(InvalidInput):
            set_password(session, user_id, "short", by=tenants.admin_a)
        event = list_events(session, action="user.password_set")[0]
        assert event.details == {}
        assert verify(session).ok
