"""Evidence vault: encryption at rest, keyed addresses, audited reads with reasons,
retention extensions, and the audited purge."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from datetime import timedelta

import pytest

from cases.world import OTHER_ORG, T0, person
from countersignal.actions import vault as vault_service
from countersignal.actions.crypto import DecryptionFailed, Keyring, load_or_create_key_file
from countersignal.actions.vault import Vault, add_months, preserve
from countersignal.audit import list_events, verify
from countersignal.errors import Forbidden, InvalidInput, NotFound

SECRET_CONTENT = b"\x89PNG...attack footage frame..." * 50


def _preserve(world, content=SECRET_CONTENT, until=T0 + timedelta(days=30), case="case_1"):
    with world.tx() as s:
        return preserve(s, world.vault, organisation_id="org_alpha", content=content,
                        metadata={"uploader_id": "user-42", "content_id": "post-7"},
                        retain_until=until, purpose="evidence", case_id=case,
                        content_type="image/png").id


def _blob_files(world):
    return [p for p in world.vault.root.rglob("*") if p.is_file()]


def test_content_and_metadata_are_encrypted_at_rest(world):
    entry_id = _preserve(world)
    [blob] = _blob_files(world)
    raw = blob.read_bytes()
    assert SECRET_CONTENT[:20] not in raw
    assert blob.name != hashlib.sha256(SECRET_CONTENT).hexdigest()  # keyed, not a public hash
    with world.tx() as s:
        from countersignal.actions.models import VaultEntry

        entry = s.get(VaultEntry, entry_id)
        assert "user-42" not in entry.metadata_ciphertext
    other_key = Vault(Keyring.generate(), world.vault.root)
    with pytest.raises(DecryptionFailed):
        other_key.keyring.decrypt(raw, context=blob.name.encode())
    tampered = bytearray(raw)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        world.vault.keyring.decrypt(bytes(tampered), context=blob.name.encode())


def test_reads_need_permission_and_a_reason_and_are_audited(world):
    entry_id = _preserve(world)
    loose_id = _preserve(world, content=b"not attached to a case", case=None)
    with world.tx() as s:
        with pytest.raises(Forbidden):
            vault_service.read_entry(s, world.platform, world.vault, entry_id, reason="curious")
        # reviewers may open the content of cases (to decide them), nothing else
        with pytest.raises(Forbidden, match="not attached to a case"):
            vault_service.read_entry(s, world.alice, world.vault, loose_id, reason="curious")
        with pytest.raises(InvalidInput, match="reason"):
            vault_service.read_entry(s, world.auditor, world.vault, entry_id, reason="  ")
        foreign_auditor = person("usr_other_auditor", "auditor", org=OTHER_ORG)
        with pytest.raises(NotFound):
            vault_service.read_entry(s, foreign_auditor, world.vault, entry_id, reason="x")
    with world.tx() as s:
        opened = vault_service.read_entry(s, world.auditor, world.vault, entry_id,
                                          reason="complaint apl_1 review")
        assert opened.content == SECRET_CONTENT
        assert opened.metadata == {"uploader_id": "user-42", "content_id": "post-7"}
        vault_service.read_entry(s, world.alice, world.vault, entry_id, reason="deciding case_1")
    with world.tx() as s:
        reads = list_events(s, action="vault.read")
        assert [(e.actor_id, e.reason, e.target_id) for e in reads] == [
            ("usr_alice", "deciding case_1", entry_id),
            ("usr_auditor", "complaint apl_1 review", entry_id)]
        assert verify(s).ok


def test_identical_content_shares_one_blob_until_the_last_entry_is_purged(world):
    first = _preserve(world, until=T0 + timedelta(days=1), case="case_1")
    second = _preserve(world, until=T0 + timedelta(days=10), case="case_2")
    assert len(_blob_files(world)) == 1
    with world.tx() as s:
        assert vault_service.purge_expired(s, world.vault, now=T0 + timedelta(days=2)) == 1
    assert len(_blob_files(world)) == 1  # still needed by the second entry
    with world.tx() as s:
        with pytest.raises(NotFound, match="purged"):
            vault_service.read_entry(s, world.auditor, world.vault, first, reason="check")
        assert vault_service.purge_expired(s, world.vault, now=T0 + timedelta(days=10)) == 1
    assert _blob_files(world) == []
    with world.tx() as s:
        purges = list_events(s, action="vault.purge")
        assert sorted(e.target_id for e in purges) == sorted([first, second])
        assert all(e.reason == "retention period ended" and e.actor_kind == "system"
                   for e in purges)
        from countersignal.actions.models import VaultEntry

        row = s.get(VaultEntry, second)
        assert (row.metadata_ciphertext, row.blob_address) == ("", None)


def test_retention_can_be_extended_on_request_never_shortened(world):
    entry_id = _preserve(world, until=T0 + timedelta(days=1))
    later = T0 + timedelta(days=400)
    with world.tx() as s:
        with pytest.raises(InvalidInput, match="reason"):
            vault_service.extend_retention(s, world.alice, entry_id, until=later, reason="")
        with pytest.raises(InvalidInput, match="later"):
            vault_service.extend_retention(s, world.alice, entry_id, until=T0, reason="x")
        vault_service.extend_retention(s, world.alice, entry_id, until=later,
                                       reason="Parquet de Paris request 2026/17")
    with world.tx() as s:
        assert vault_service.purge_expired(s, world.vault, now=T0 + timedelta(days=2)) == 0
        [event] = list_events(s, action="vault.extend")
        assert event.reason == "Parquet de Paris request 2026/17"


def test_six_calendar_months():
    assert add_months(T0, 6) == T0.replace(month=9)
    assert add_months(T0.replace(month=8, day=31), 6) == T0.replace(year=2027, month=2, day=28)
    assert add_months(T0.replace(month=12), 1) == T0.replace(year=2027, month=1)


def test_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "vault.key"
    key = load_or_create_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key_file(path) == key
    ring = Keyring(key)
    assert key.hex() not in repr(ring) and base64.urlsafe_b64encode(key).decode() not in repr(ring)
    path.write_bytes(b"c2hvcnQ=")
    with pytest.raises(InvalidInput):
        load_or_create_key_file(path)
