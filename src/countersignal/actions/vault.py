"""Evidence vault: removed content and its metadata, encrypted, retained, audited, purged.

TCO Regulation Art. 6: content removed or disabled, and its related data, is preserved for six
months (longer when an authority or court asks), so it can be restored after a successful
complaint or used in proceedings. Here:

* blobs are encrypted (AES-256-GCM) under a keyed content address in ``<vault_dir>/ab/<addr>``
  and shared by entries with the same content; metadata is encrypted in the database row;
* every read needs ``vault:read`` and a reason, and is audited (``vault.read``); extensions
  are audited (``vault.extend``); so is every purge (``vault.purge``, by the system);
* :func:`purge_expired` (run by the worker) deletes what passed ``retain_until``.
"""

from __future__ import annotations

import json
import os
from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from countersignal.actions.crypto import Keyring
from countersignal.actions.models import VAULT_PURPOSES, VaultEntry
from countersignal.audit import Actor, Target, record
from countersignal.auth.principal import Principal, require, require_own
from countersignal.db import utcnow
from countersignal.errors import Conflict, Forbidden, InvalidInput, NotFound
from countersignal.settings import Settings

EVIDENCE_RETENTION_MONTHS = 6


def add_months(at: datetime, months: int) -> datetime:
    """Same day-of-month ``months`` later (clamped to the month's last day): 31 Aug + 6 → 28/29
    Feb. Calendar months, as the Regulation counts them, not 183 days."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, monthrange(year, month)[1]))


@dataclass
class Vault:
    """Where blobs live and the key that seals them."""

    keyring: Keyring
    root: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls(Keyring.from_settings(settings), settings.vault_dir or settings.home / "vault")

    def _path(self, address: str) -> Path:
        return self.root / address[:2] / address

    def store_blob(self, content: bytes) -> str:
        address = self.keyring.address(content)
        path = self._path(address)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with tmp.open("wb") as fh:
                fh.write(self.keyring.encrypt(content, context=address.encode()))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        return address

    def load_blob(self, address: str) -> bytes:
        path = self._path(address)
        if not path.is_file():
            raise NotFound("the preserved content is missing from the vault")
        return self.keyring.decrypt(path.read_bytes(), context=address.encode())

    def delete_blob(self, address: str) -> bool:
        path = self._path(address)
        if path.exists():
            path.unlink()
            return True
        return False

    def blob_exists(self, address: str) -> bool:
        return self._path(address).is_file()


@dataclass
class Preserved:
    """What a vault read returns."""

    entry: VaultEntry
    content: bytes | None
    metadata: dict


def _metadata_context(entry_id: str) -> str:
    return f"vault-metadata:{entry_id}"


def preserve(
    session: Session,
    vault: Vault,
    *,
    organisation_id: str,
    content: bytes | None,
    metadata: dict,
    retain_until: datetime,
    purpose: str = "review",
    content_type: str = "",
    case_id: str | None = None,
    submission_id: str | None = None,
    actor: Actor | None = None,
) -> VaultEntry:
    """Seal ``content`` (may be None: metadata only) and ``metadata`` in the vault."""
    if purpose not in VAULT_PURPOSES:
        raise InvalidInput(f"vault purpose must be one of {VAULT_PURPOSES}")
    address = vault.store_blob(content) if content is not None else None
    entry = VaultEntry(
        organisation_id=organisation_id, case_id=case_id, submission_id=submission_id,
        blob_address=address, size=len(content or b""), content_type=content_type,
        key_id=vault.keyring.key_id, purpose=purpose, retain_until=retain_until,
        extension_reason="",
    )
    session.add(entry)
    session.flush()
    entry.metadata_ciphertext = vault.keyring.encrypt_text(
        json.dumps(metadata, sort_keys=True, default=str), context=_metadata_context(entry.id)
    )
    record(session, actor=actor or Actor.system("vault"), action="vault.preserve",
           target=Target("vault_entry", entry.id), organisation_id=organisation_id,
           reason=f"preserved for {purpose}",
           details={"case_id": case_id, "size": entry.size,
                    "retain_until": retain_until.isoformat()})
    return entry


def _own_entry(session: Session, principal: Principal, entry_id: str) -> VaultEntry:
    entry = session.get(VaultEntry, entry_id)
    require_own(principal, entry.organisation_id if entry else None, what="vault entry")
    assert entry is not None
    return entry


def read_entry(
    session: Session, principal: Principal, vault: Vault, entry_id: str, *, reason: str,
) -> Preserved:
    """Open preserved evidence. Needs ``vault:read`` — or ``cases:decide`` for the content of
    a case, which a reviewer must see to decide it or its appeal — and a reason; the read is
    audited in the same transaction, so content never leaves without a record of who, when
    and why."""
    if not principal.can("vault:read"):
        require(principal, "cases:decide")
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to read preserved evidence")
    entry = _own_entry(session, principal, entry_id)
    if entry.case_id is None and not principal.can("vault:read"):
        raise Forbidden("reading evidence not attached to a case needs the vault:read permission")
    if entry.purged_at is not None:
        raise NotFound("this evidence was purged at the end of its retention period")
    record(session, actor=principal.actor, action="vault.read",
           target=Target("vault_entry", entry.id), organisation_id=entry.organisation_id,
           reason=reason, details={"case_id": entry.case_id})
    metadata = json.loads(vault.keyring.decrypt_text(
        entry.metadata_ciphertext, context=_metadata_context(entry.id)
    ))
    content = vault.load_blob(entry.blob_address) if entry.blob_address else None
    return Preserved(entry, content, metadata)


def extend_retention(
    session: Session, principal: Principal, entry_id: str, *, until: datetime, reason: str,
) -> VaultEntry:
    """Keep evidence longer (an authority's or court's request, Art. 6(2)); never shorter."""
    require(principal, "cases:decide")
    if not (reason or "").strip():
        raise InvalidInput("a reason (who asked, reference) is required to extend retention")
    entry = _own_entry(session, principal, entry_id)
    if entry.purged_at is not None:
        raise Conflict("this evidence was already purged")
    if until <= entry.retain_until:
        raise InvalidInput("an extension must move retain_until later")
    previous = entry.retain_until
    entry.retain_until, entry.purpose = until, "evidence"
    entry.extension_reason = reason
    record(session, actor=principal.actor, action="vault.extend",
           target=Target("vault_entry", entry.id), organisation_id=entry.organisation_id,
           reason=reason, details={"from": previous.isoformat(), "to": until.isoformat()})
    return entry


def set_retention(
    session: Session, entry: VaultEntry, *, purpose: str, retain_until: datetime,
    actor: Actor, reason: str,
) -> VaultEntry:
    """Change an entry's purpose and retention as a decision requires (system-side)."""
    entry.purpose, entry.retain_until = purpose, retain_until
    record(session, actor=actor, action="vault.retention",
           target=Target("vault_entry", entry.id), organisation_id=entry.organisation_id,
           reason=reason, details={"purpose": purpose, "retain_until": retain_until.isoformat()})
    return entry


def list_entries(
    session: Session, principal: Principal, *, case_id: str | None = None, limit: int = 100,
) -> list[VaultEntry]:
    """Entries (not their content) for oversight screens; listing is not a read."""
    require(principal, "cases:read")
    query = select(VaultEntry).where(principal.own(VaultEntry.organisation_id))
    if case_id:
        query = query.where(VaultEntry.case_id == case_id)
    return list(session.scalars(query.order_by(VaultEntry.created_at.desc()).limit(limit)))


def purge_expired(session: Session, vault: Vault, *, now: datetime | None = None) -> int:
    """Delete content and metadata of every entry past ``retain_until``; audit each purge.

    A blob shared with a live entry stays until its last entry goes."""
    now = now or utcnow()
    expired = session.scalars(
        select(VaultEntry).where(VaultEntry.purged_at.is_(None), VaultEntry.retain_until <= now)
    ).all()
    for entry in expired:
        address = entry.blob_address
        entry.purged_at, entry.metadata_ciphertext, entry.blob_address = now, "", None
        session.flush()
        deleted = False
        if address:
            still_used = session.scalar(
                select(func.count()).select_from(VaultEntry).where(
                    VaultEntry.blob_address == address, VaultEntry.purged_at.is_(None)
                )
            )
            if not still_used:
                deleted = vault.delete_blob(address)
        record(session, actor=Actor.system("retention"), action="vault.purge",
               target=Target("vault_entry", entry.id), organisation_id=entry.organisation_id,
               reason="retention period ended",
               details={"retain_until": entry.retain_until.isoformat(), "case_id": entry.case_id,
                        "blob_deleted": deleted})
    return len(expired)
