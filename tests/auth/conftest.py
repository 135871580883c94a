"""Two organisations with an admin principal each, on every database backend."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from countersignal.auth import Principal, create_organisation, create_user


@dataclass
class Tenants:
    factory: object
    org_a: str
    org_b: str
    admin_a: Principal
    admin_b: Principal
    operator: Principal


@pytest.fixture
def tenants(session_factory) -> Tenants:
    operator = Principal.system("test")
    with session_factory() as session, session.begin():
        a = create_organisation(session, by=operator, name="Alpha", kind="platform", country="de")
        b = create_organisation(session, by=operator, name="Beta", kind="newsroom", country="FR")
        admin_a = create_user(
            session,
            by=operator,
            organisation_id=a.id,
            email="A@alpha.example",
            display_name="Admin A",
            roles=["admin"],
        )
        admin_b = create_user(
            session,
            by=operator,
            organisation_id=b.id,
            email="b@beta.example",
            display_name="Admin B",
            roles=["admin"],
        )
    return Tenants(
        session_factory,
        a.id,
        b.id,
        Principal.for_user(admin_a),
        Principal.for_user(admin_b),
        operator,
    )
