"""API tokens: format, storage, authentication failures, expiry, revocation, roles and scopes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from countersignal.audit import list_events, verify
from countersignal.auth import (
    ApiToken,
    Principal,
    User,
    authenticate_token,
    create_user,
    issue_token,
    list_tokens,
    revoke_token,
    set_user_active,
)
from countersignal.db import utcnow
from countersignal.errors import Forbidden, InvalidInput, NotFound, Unauthorized

FORMAT = re.compile(r"^cs_([a-z0-9]{8})_[A-Za-z0-9]{40}$")


def issue(tenants, **kwargs):
    args = {
        "by": tenants.admin_a,
        "organisation_id": tenants.org_a,
        "name": "ingest",
        "roles": ["platform-client"],
    }
    with tenants.factory() as session, session.begin():
        return issue_token(session, **{**args, **kwargs})


def authenticate(tenants, secret) -> Principal:
    with tenants.factory() as session, session.begin():
        return authenticate_token(session, secret)


def test_service_token_round_trip_and_no_secret_at_rest(tenants):
    token, secret = issue(tenants)
    match = FORMAT.match(secret)
    assert match and match.group(1) == token.prefix
    principal = authenticate(tenants, secret)
    assert principal == Principal(tenants.org_a, None, token.id, frozenset({"platform-client"}))
    assert principal.can("match") and not principal.can("admin")
    with tenants.factory() as session:
        rows = session.execute(text("SELECT * FROM api_tokens")).all()
        events = session.execute(text("SELECT details FROM audit_events")).all()
    dump = repr(rows) + repr(events)
    assert secret not in dump and secret[12:] not in dump
    assert token.prefix in dump


def test_every_failure_looks_the_same(tenants):
    _, secret = issue(tenants)
    revoked_token, revoked = issue(tenants, name="old")
    expiring, expired = issue(tenants, name="short", expires_at=utcnow() + timedelta(hours=1))
    with tenants.factory() as session, session.begin():
        revoke_token(session, revoked_token.id, by=tenants.admin_a)
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == expiring.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    wrong_secret = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    messages = set()
    for presented in (
        wrong_secret,
        revoked,
        expired,
        "cs_zzzzzzzz_" + "A" * 40,
        "",
        "Bearer x",
        secret + "x",
        secret.upper(),
    ):
        with pytest.raises(Unauthorized) as caught:
            authenticate(tenants, presented)
        messages.add(caught.value.message)
    assert messages == {"invalid, expired or revoked API token"}
    authenticate(tenants, secret)  # the good one still works


def test_last_used_is_recorded_but_not_rewritten_every_request(tenants):
    token, secret = issue(tenants)
    authenticate(tenants, secret)
    with tenants.factory() as session:
        first = session.get(ApiToken, token.id).last_used_at
    assert first is not None and utcnow() - first < timedelta(minutes=1)
    authenticate(tenants, secret)
    with tenants.factory() as session:
        assert session.get(ApiToken, token.id).last_used_at == first
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id)
            .values(last_used_at=first - timedelta(minutes=5))
        )
        session.commit()
    authenticate(tenants, secret)
    with tenants.factory() as session:
        assert session.get(ApiToken, token.id).last_used_at > first


def test_user_token_roles_follow_the_user(tenants):
    with tenants.factory() as session, session.begin():
        user = create_user(
            session,
            by=tenants.admin_a,
            organisation_id=tenants.org_a,
            email="r@alpha.example",
            display_name="R",
            roles=["reviewer", "auditor"],
        )
    with pytest.raises(InvalidInput, match="curator"):
        issue(tenants, user_id=user.id, roles=["reviewer", "curator"])
    with pytest.raises(NotFound):  # another tenant's admin cannot see the user
        issue(tenants, by=tenants.admin_b, organisation_id=tenants.org_b, user_id=user.id)
    token, secret = issue(
        tenants,
        user_id=user.id,
        roles=["reviewer", "auditor"],
        scopes=["cases:read", "cases:decide", "vault:read"],
    )
    principal = authenticate(tenants, secret)
    assert (principal.user_id, principal.token_id) == (user.id, token.id)
    assert principal.permissions == {"cases:read", "cases:decide", "vault:read"}
    assert principal.actor.kind == "user" and principal.actor.token_id == token.id
    with tenants.factory() as session, session.begin():
        session.get(User, user.id).roles = ["auditor"]  # the reviewer role was taken away
    assert authenticate(tenants, secret).permissions == {"cases:read", "vault:read"}
    with tenants.factory() as session, session.begin():
        set_user_active(session, user.id, False, by=tenants.admin_a)
    with pytest.raises(Unauthorized):
        authenticate(tenants, secret)
    with pytest.raises(InvalidInput, match="inactive"):
        issue(tenants, user_id=user.id, roles=["auditor"])


def test_issue_rules(tenants):
    with pytest.raises(Forbidden):
        issue(tenants, by=Principal(tenants.org_a, None, "tok_x", frozenset({"curator"})))
    with pytest.raises(NotFound):
        issue(tenants, organisation_id=tenants.org_b)
    with pytest.raises(InvalidInput):
        issue(tenants, roles=[])
    with pytest.raises(InvalidInput):
        issue(tenants, scopes=["everything"])
    with pytest.raises(InvalidInput):
        issue(tenants, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        issue(tenants, expires_at=utcnow().replace(tzinfo=None) + timedelta(days=1))
    with pytest.raises(InvalidInput):
        issue(tenants, name="")
    # an admin token issued by an admin can administer, within its organisation only
    _, secret = issue(tenants, roles=["admin"])
    admin_token = authenticate(tenants, secret)
    token, _ = issue(tenants, by=admin_token)
    with tenants.factory() as session:
        event = list_events(session, action="token.issue", target_id=token.id)[0]
    assert (event.actor_kind, event.actor_id) == ("token", admin_token.token_id)
    assert event.details["roles"] == ["platform-client"]


def test_revoke_and_list(tenants):
    token_a, secret_a = issue(tenants)
    token_b, _ = issue(tenants, by=tenants.admin_b, organisation_id=tenants.org_b, name="b")
    with tenants.factory() as session, session.begin():
        assert [t.id for t in list_tokens(session, by=tenants.admin_a)] == [token_a.id]
        assert {t.id for t in list_tokens(session, by=tenants.operator)} == {token_a.id, token_b.id}
        with pytest.raises(NotFound):
            revoke_token(session, token_b.id, by=tenants.admin_a)
        with pytest.raises(Forbidden):  # a service token cannot revoke itself without admin
            revoke_token(session, token_a.id, by=authenticate_token(session, secret_a))
        revoked = revoke_token(session, token_a.id, by=tenants.admin_a)
        first_revoked_at = revoked.revoked_at
        assert revoke_token(session, token_a.id, by=tenants.admin_a).revoked_at == first_revoked_at
        assert list_tokens(session, by=tenants.admin_a) == []
        listed = list_tokens(session, by=tenants.admin_a, include_inactive=True)
        assert [(t.id, t.state(utcnow())) for t in listed] == [(token_a.id, "revoked")]
        assert len(list_events(session, action="token.revoke")) == 1
        assert verify(session).ok
    with pytest.raises(Unauthorized):
        authenticate(tenants, secret_a)


def test_user_may_revoke_their_own_token(tenants):
    with tenants.factory() as session, session.begin():
        user = create_user(
            session,
            by=tenants.admin_a,
            organisation_id=tenants.org_a,
            email="c@alpha.example",
            display_name="C",
            roles=["curator"],
        )
    token, secret = issue(tenants, user_id=user.id, roles=["curator"])
    with tenants.factory() as session, session.begin():
        me = authenticate_token(session, secret)
        assert revoke_token(session, token.id, by=me).revoked_at is not None
