"""The embedded default's demo organisation, admin and token."""

from __future__ import annotations

from countersignal.audit import list_events, verify
from countersignal.auth import PERMISSIONS, authenticate_token, ensure_demo


def test_ensure_demo_creates_once(session_factory):
    with session_factory() as session, session.begin():
        secret = ensure_demo(session)
    assert secret and secret.startswith("cs_")
    with session_factory() as session, session.begin():
        assert ensure_demo(session) is None
        principal = authenticate_token(session, secret)
        assert principal.permissions == set(PERMISSIONS)
        assert [e.action for e in list_events(session)] == [
            "token.issue",
            "user.create",
            "organisation.create",
        ]
        assert verify(session).ok
