"""Credentials at rest and in comparison: passwords are argon2id hashes, token and CSRF and
signature checks go through hmac.compare_digest, and no secret anywhere in the source is
compared with ``==`` (which returns at the first differing byte)."""

from __future__ import annotations

import ast
import hmac
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import text

from countersignal.auth import (
    Principal,
    authenticate_token,
    create_organisation,
    create_user,
    issue_token,
    verify_password,
)
from countersignal.errors import Unauthorized

SRC = Path(__file__).parents[2] / "src" / "countersignal"
PASSWORD = "a long and unguessable passphrase"


@pytest.fixture
def session(sqlite_template, tmp_path):
    from countersignal.db import make_engine, session_factory

    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite")
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def org(session) -> str:
    return create_organisation(session, by=Principal.system("tests"), name="Cred Org",
                               kind="platform", country="DE").id


def test_passwords_are_stored_as_argon2id(session, org) -> None:
    user = create_user(session, by=Principal.system("tests"), organisation_id=org,
                       email="p@cred.test", display_name="P", roles=["reviewer"],
                       password=PASSWORD)
    session.flush()
    stored = session.execute(text("SELECT password_hash FROM users WHERE id = :id"),
                             {"id": user.id}).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    params = extract_parameters(stored)
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2  # OWASP minimums
    assert PasswordHasher().verify(stored, PASSWORD)
    assert verify_password(session, email="p@cred.test", password=PASSWORD).id == user.id
    with pytest.raises(Unauthorized):
        verify_password(session, email="p@cred.test", password=PASSWORD + "x")


def test_token_checks_use_compare_digest_even_for_unknown_tokens(session, org,
                                                                   monkeypatch) -> None:
    _, secret = issue_token(session, by=Principal.system("tests"), organisation_id=org,
                            name="t", roles=["reviewer"])
    session.flush()
    stored = session.execute(text("SELECT secret_hash FROM api_tokens")).scalars().all()
    assert secret not in stored  # only a digest at rest
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert authenticate_token(session, secret).organisation_id == org
    for wrong in (secret[:-1] + ("A" if secret[-1] != "A" else "B"), "cs_unknown_" + "x" * 40,
                  "garbage"):
        with pytest.raises(Unauthorized):
            authenticate_token(session, wrong)
    assert len(calls) == 4  # one constant-time comparison per attempt, found or not


def test_csrf_and_webhook_signature_checks_use_compare_digest(monkeypatch) -> None:
    from countersignal.actions.webhooks import sign, verify_signature
    from countersignal.errors import Forbidden
    from countersignal.web import sessions
    from countersignal.web.models import WebSession

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    row = WebSession(csrf_token="t" * 43)
    sessions.check_csrf(row, "t" * 43)
    with pytest.raises(Forbidden):
        sessions.check_csrf(row, "t" * 42 + "u")
    body, now = b'{"x": 1}', datetime(2026, 11, 29, tzinfo=UTC)
    header = sign("whsec_x", body, int(now.timestamp()))
    verify_signature("whsec_x", header, body, now=now)
    assert len(calls) == 3


SECRET_WORDS = {"secret", "secrets", "password", "passwords", "csrf", "signature", "mac",
                "credential", "credentials", "cookie"}
"""Words of a snake_case name that make it a secret (``secret_hash``, ``csrf_token``, ...)."""


def _names(node: ast.AST) -> list[str]:
    return [n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, ast.Name | ast.Attribute)]


def _is_model_column(node: ast.AST) -> bool:
    """``Model.column``: builds SQL (an indexed lookup of a digest), compares nothing here."""
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id[:1].isupper())


def test_no_secret_is_compared_with_equals() -> None:
    """Static check over the whole source: an ``==``/``!=`` whose operands name a secret."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value is None for o in operands):
                continue
            if any(_is_model_column(o) for o in operands):  # a SQL WHERE on a stored digest
                continue
            names = {name.lower() for o in operands for name in _names(o)}
            if any(set(name.split("_")) & SECRET_WORDS for name in names):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node)}")
    assert not offenders, "\n".join(offenders)
