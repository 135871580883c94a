"""exchange: encrypt partner credentials

A partner's bearer token and HTTP Basic password for *their* TAXII server were stored in clear
in ``exchange_partners.auth_token`` / ``password``. They move to ``auth_token_sealed`` /
``password_sealed``: AES-256-GCM under an HKDF sub-key (purpose ``countersignal partner
credentials v1``) of the deployment's master key, the evidence vault's
(``COUNTERSIGNAL_VAULT_KEY`` or ``<home>/vault.key``), each bound to its row and field. Existing
rows are converted, then the clear columns are dropped.

The key is the one of the process that runs the migration (``countersignal serve`` and every
other command migrate on start with the deployment's own settings); it is only read when there
is a row to convert. ``downgrade`` opens them again under the same key.

Plain ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35+), not a batch table copy: recreating
``exchange_partners`` would cascade-delete its sync state.

Revision ID: exchange_0002
Revises: exchange_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "exchange_0002"
down_revision = "exchange_0001"
branch_labels = None
depends_on = None

FIELDS = ("auth_token", "password")


def _context(partner_id: str, name: str) -> str:
    # Must equal countersignal.exchange.models.credential_context (a test checks they agree).
    return f"exchange_partners:{partner_id}:{name}"


def _sealer():
    from countersignal.actions.crypto import PARTNER_CREDENTIALS, Keyring
    from countersignal.settings import get_settings

    return Keyring.from_settings(get_settings()).sealer(PARTNER_CREDENTIALS)


def upgrade() -> None:
    op.add_column("exchange_partners", sa.Column("auth_token_sealed", sa.Text(), nullable=True))
    op.add_column("exchange_partners", sa.Column("password_sealed", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, auth_token, password FROM exchange_partners "
            "WHERE auth_token IS NOT NULL OR password IS NOT NULL"
        )
    ).all()
    if rows:
        sealer = _sealer()
        for partner_id, *values in rows:
            sealed = {
                f"{name}_sealed": sealer.seal(value, context=_context(partner_id, name))
                if value else None
                for name, value in zip(FIELDS, values, strict=True)
            }
            conn.execute(
                sa.text(
                    "UPDATE exchange_partners SET auth_token_sealed = :auth_token_sealed, "
                    "password_sealed = :password_sealed WHERE id = :id"
                ),
                {**sealed, "id": partner_id},
            )
    op.drop_column("exchange_partners", "password")
    op.drop_column("exchange_partners", "auth_token")


def downgrade() -> None:
    op.add_column("exchange_partners", sa.Column("auth_token", sa.Text(), nullable=True))
    op.add_column("exchange_partners", sa.Column("password", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, auth_token_sealed, password_sealed FROM exchange_partners "
            "WHERE auth_token_sealed IS NOT NULL OR password_sealed IS NOT NULL"
        )
    ).all()
    if rows:
        sealer = _sealer()
        for partner_id, *values in rows:
            clear = {
                name: sealer.open(value, context=_context(partner_id, name)) if value else None
                for name, value in zip(FIELDS, values, strict=True)
            }
            conn.execute(
                sa.text(
                    "UPDATE exchange_partners SET auth_token = :auth_token, "
                    "password = :password WHERE id = :id"
                ),
                {**clear, "id": partner_id},
            )
    op.drop_column("exchange_partners", "password_sealed")
    op.drop_column("exchange_partners", "auth_token_sealed")
