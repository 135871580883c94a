"""Partner credentials (their TAXII server's bearer token / Basic password) at rest: sealed with
AES-256-GCM under a sub-key of the deployment's master key. The raw columns never hold them,
a real pull still authenticates, another key or another row cannot open them, nothing shows
them in a repr, and migration exchange_0002 converts clear rows already stored."""

from __future__ import annotations

import base64
import secrets

import pytest
from sqlalchemy import text

from countersignal.actions.crypto import Keyring
from countersignal.banks import service
from countersignal.exchange import policy, sync
from countersignal.exchange.client import PartnerEndpoint
from countersignal.exchange.models import Partner, SyncState, credential_sealer
from loopback import QuietHandler, serve_http

from .helpers import ORG
from .peers import Medallion

KEYRING = Keyring.generate()


@pytest.fixture(scope="module")
def medallion(tmp_path_factory):
    peer = Medallion(tmp_path_factory.mktemp("medallion-credentials"))
    yield peer
    peer.stop()


def _raw_rows(db) -> list[tuple]:
    with db() as s:
        return [tuple(row) for row in s.execute(text("SELECT * FROM exchange_partners"))]


def test_raw_columns_hold_no_secret_and_a_real_pull_authenticates(db, medallion):
    token = "tok-" + secrets.token_urlsafe(24)
    with db.begin() as s:
        inbox = service.create_bank(s, organisation_id=ORG, name="inbox").id
        with_password = policy.create_partner(
            s, organisation_id=ORG, partner_organisation_id="org_medallion", name="medallion",
            api_root_url=medallion.api_root, collection_id=medallion.collection_id,
            username=medallion.USER, password=medallion.PASSWORD, allow_private_network=True,
            import_bank_id=inbox, keyring=KEYRING,
        ).id
        with_token = policy.create_partner(
            s, organisation_id=ORG, partner_organisation_id="org_bearer", name="bearer",
            api_root_url="https://taxii.partner.example/api/", auth_token=token,
            keyring=KEYRING,
        )
        assert token not in repr(with_token)
        with_token = with_token.id

    rows = _raw_rows(db)
    dump = "\n".join(repr(row) for row in rows)
    assert len(rows) == 2
    for secret in (token, medallion.PASSWORD):
        assert secret not in dump
        assert base64.b64encode(secret.encode()).decode()[:12] not in dump
    with db() as s:
        columns = set(s.execute(text("SELECT * FROM exchange_partners")).keys())
        assert {"auth_token", "password"}.isdisjoint(columns)
        sealed = s.execute(text("SELECT auth_token_sealed, password_sealed FROM "
                                "exchange_partners WHERE id = :id"), {"id": with_token}).one()
        assert sealed[0] and sealed[1] is None
        partner = s.get(Partner, with_token)
        endpoint = PartnerEndpoint.of(partner, credential_sealer(KEYRING))
        assert endpoint.auth_token == token and token not in repr(endpoint)

    # A real pull against medallion (which refuses anyone else) authenticates with the
    # password opened from its sealed column.
    result = sync.pull(db, with_password, keyring=KEYRING)
    assert result.ok, result.error

    # Under another deployment's key the credentials do not open: the pull fails clearly,
    # is recorded, and backs off; nothing is sent.
    other = sync.pull(db, with_password, keyring=Keyring.generate())
    assert not other.ok and "do not open with this deployment's key" in other.error
    with db() as s:
        state = s.get(SyncState, with_password)
        assert state.consecutive_failures == 1 and "vault.key" in state.last_error


def test_a_sealed_value_is_bound_to_its_row_and_field(db):
    sealer = credential_sealer(KEYRING)
    with db.begin() as s:
        first = policy.create_partner(s, organisation_id=ORG, partner_organisation_id="o1",
                                      name="first", auth_token="alpha", password="beta",
                                      keyring=KEYRING)
        second = policy.create_partner(s, organisation_id=ORG, partner_organisation_id="o2",
                                       name="second", keyring=KEYRING)
        assert first.credentials(sealer) == {"auth_token": "alpha", "password": "beta"}
        second.auth_token_sealed = first.auth_token_sealed  # copied to another row
        first.password_sealed = first.auth_token_sealed  # or to another field
        from countersignal.actions.crypto import DecryptionFailed

        with pytest.raises(DecryptionFailed):
            second.credentials(sealer)
        with pytest.raises(DecryptionFailed):
            first.credentials(sealer)
        # Updating sets (or clears) them sealed again.
        policy.update_partner(s, first, keyring=KEYRING, auth_token="gamma", password=None)
        assert first.credentials(sealer) == {"auth_token": "gamma", "password": None}
        assert first.password_sealed is None and "gamma" not in first.auth_token_sealed


def test_bearer_token_reaches_the_partner_server(db):
    """The token opened from its column is what the partner's server receives."""
    seen: list[str] = []

    class Handler(QuietHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization", ""))
            self.reply(200, b'{"more": false, "objects": []}', "application/taxii+json;version=2.1")

    token = "tok-" + secrets.token_urlsafe(24)
    with serve_http(Handler) as server:
        with db.begin() as s:
            partner_id = policy.create_partner(
                s, organisation_id=ORG, partner_organisation_id="org_b", name="b",
                api_root_url=f"{server.url}/api/", collection_id="c",
                auth_token=token, allow_private_network=True, keyring=KEYRING).id
        assert sync.pull(db, partner_id, keyring=KEYRING).ok
    assert seen and set(seen) == {f"Bearer {token}"}


def test_migration_seals_clear_rows_and_downgrade_opens_them(tmp_path, monkeypatch):
    """exchange_0002 on a database that holds clear credentials (written at exchange_0001):
    sealed under the migrating process's key, clear columns gone; the model opens them; the
    downgrade puts them back in clear."""
    from countersignal.db import downgrade, make_engine, migrate, session_factory
    from countersignal.exchange.models import credential_context
    from countersignal.settings import get_settings

    raw_key = secrets.token_bytes(32)
    key = Keyring(raw_key)
    monkeypatch.setenv("COUNTERSIGNAL_VAULT_KEY", base64.urlsafe_b64encode(raw_key).decode())
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "exchange_0001")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO exchange_partners (id, organisation_id, partner_organisation_id, "
                "name, auth_token, username, password, allow_private_network, trusted, "
                "share_sightings, enabled, pull_enabled, push_enabled, created_at) VALUES "
                "(:id, 'org', :p, :id, :token, :user, :password, 0, 0, 0, 1, 1, 0, "
                "'2026-11-01 00:00:00')"),
                [{"id": "prt_a", "p": "pa", "token": "clear-token-a", "user": None,
                  "password": None},
                 {"id": "prt_b", "p": "pb", "token": None, "user": "u",
                  "password": "clear-password-b"},
                 {"id": "prt_c", "p": "pc", "token": None, "user": None, "password": None}])
        migrate(url)
        with engine.connect() as conn:
            dump = repr(conn.execute(text("SELECT * FROM exchange_partners")).all())
            assert "clear-token-a" not in dump and "clear-password-b" not in dump
        with session_factory(engine)() as s:
            sealer = key.sealer(b"countersignal partner credentials v1")
            opened = {pid: s.get(Partner, pid).credentials(sealer)
                      for pid in ("prt_a", "prt_b", "prt_c")}
        assert opened == {"prt_a": {"auth_token": "clear-token-a", "password": None},
                          "prt_b": {"auth_token": None, "password": "clear-password-b"},
                          "prt_c": {"auth_token": None, "password": None}}
        # The migration binds each value as the model does.
        from importlib import import_module

        revision = import_module("countersignal.db.migrations.versions."
                                 "exchange_0002_encrypt_partner_credentials")
        assert revision._context("prt_x", "password") == credential_context("prt_x", "password")

        downgrade(url, "exchange_0001")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT id, auth_token, password FROM exchange_partners "
                                     "ORDER BY id")).all()
        assert [tuple(r) for r in back] == [("prt_a", "clear-token-a", None),
                                            ("prt_b", None, "clear-password-b"),
                                            ("prt_c", None, None)]
    finally:
        engine.dispose()
        get_settings.cache_clear()
