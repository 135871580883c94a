"""The evidence key: AES-256-GCM encryption and keyed content addresses for the vault.

One 32-byte master key comes from ``settings.vault_key`` (base64) or a key file
(``settings.vault_key_file``, default ``<home>/vault.key``, created with mode 0600 on first use).
Sub-keys are derived from it with HKDF, one ``info`` per purpose, so that no two uses share a
key: vault encryption and addressing here, and through :meth:`Keyring.sealer` /
:meth:`Keyring.subkey` other secrets at rest (partner credentials) and the login form's CSRF
token. Every purpose string is listed in ``PURPOSES``; a new use adds its own.
Blob addresses are HMAC-SHA256 of the plaintext, not a plain hash: the vault de-duplicates
identical content, yet nobody holding only the disk can test whether a known file (whose
SHA-256 is public in hash lists) is stored. The key is never logged or put in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from countersignal.errors import CountersignalError, InvalidInput
from countersignal.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = b"\x01"


class DecryptionFailed(CountersignalError):
    """Ciphertext that does not open with this key: wrong key, or tampered with."""

    http_status = 500
    title = "Evidence could not be decrypted"


VAULT_ENCRYPTION = b"countersignal vault encryption v1"
VAULT_ADDRESS = b"countersignal vault address v1"
PARTNER_CREDENTIALS = b"countersignal partner credentials v1"
LOGIN_CSRF = b"countersignal login csrf v1"
PURPOSES = frozenset({VAULT_ENCRYPTION, VAULT_ADDRESS, PARTNER_CREDENTIALS, LOGIN_CSRF})


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(
        master
    )


class Keyring:
    """Encrypts, decrypts and addresses evidence with sub-keys of one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise InvalidInput(f"the vault key must be {KEY_BYTES} bytes")
        self._master = master_key
        self._aead = AESGCM(_derive(master_key, VAULT_ENCRYPTION))
        self._mac_key = _derive(master_key, VAULT_ADDRESS)
        self.key_id = hashlib.sha256(b"key-id" + master_key).hexdigest()[:12]

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> Keyring:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The deployment's key: the configured value, else the key file (created if absent)."""
        if settings.vault_key is not None:
            try:
                raw = base64.urlsafe_b64decode(settings.vault_key.get_secret_value())
            except ValueError as exc:
                raise InvalidInput("COUNTERSIGNAL_VAULT_KEY is not valid base64") from exc
            return cls(raw)
        return cls(load_or_create_key_file(settings.vault_key_file or settings.home / "vault.key"))

    def subkey(self, purpose: bytes) -> bytes:
        """A key for one other purpose (HKDF with that purpose as ``info``); never one of the
        vault's own two."""
        if purpose not in PURPOSES or purpose in (VAULT_ENCRYPTION, VAULT_ADDRESS):
            raise ValueError(f"unknown or reserved key purpose {purpose!r}")
        return _derive(self._master, purpose)

    def sealer(self, purpose: bytes) -> Sealer:
        """AES-256-GCM under the ``purpose`` sub-key, for short secrets in database columns."""
        return Sealer(self.subkey(purpose), self.key_id)

    def address(self, plaintext: bytes) -> str:
        """Keyed content address (hex): equal content, equal address, under this key only."""
        return hmac.new(self._mac_key, plaintext, hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: bytes, *, context: bytes) -> bytes:
        """``version || nonce || ciphertext+tag``; ``context`` is bound as associated data so
        a ciphertext moved to another record or blob no longer opens."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return FORMAT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def decrypt(self, blob: bytes, *, context: bytes) -> bytes:
        if blob[:1] != FORMAT_VERSION or len(blob) < 1 + NONCE_BYTES + 16:
            raise DecryptionFailed("unknown evidence format")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, context)
        except InvalidTag as exc:
            raise DecryptionFailed("evidence does not decrypt: wrong key or tampered") from exc

    def encrypt_text(self, text: str, *, context: str) -> str:
        """Encrypt a short string for a database column (URL-safe base64)."""
        sealed = self.encrypt(text.encode(), context=context.encode())
        return base64.urlsafe_b64encode(sealed).decode()

    def decrypt_text(self, token: str, *, context: str) -> str:
        return self.decrypt(base64.urlsafe_b64decode(token), context=context.encode()).decode()


class Sealer:
    """Seals short strings for a database column: URL-safe base64 of ``version || nonce ||
    ciphertext+tag``, the ``context`` (e.g. the row id and column) bound as associated data, so a
    value copied to another row or column does not open."""

    def __init__(self, key: bytes, key_id: str) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id

    def __repr__(self) -> str:  # never show key material
        return f"Sealer(key_id={self.key_id!r})"

    def seal(self, text: str, *, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = self._aead.encrypt(nonce, text.encode(), context.encode())
        return base64.urlsafe_b64encode(FORMAT_VERSION + nonce + body).decode()

    def open(self, sealed: str, *, context: str) -> str:
        try:
            blob = base64.urlsafe_b64decode(sealed)
        except ValueError as exc:
            raise DecryptionFailed("sealed value is not base64") from exc
        if blob[:1] != FORMAT_VERSION or len(blob) < 1 + NONCE_BYTES + 16:
            raise DecryptionFailed("unknown sealed-value format")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionFailed("sealed value does not open: wrong key or tampered") from exc


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, or create it (mode 0600, exclusive create so two processes starting
    together agree on one key)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)))
                fh.flush()
                os.fsync(fh.fileno())
    raw = base64.urlsafe_b64decode(path.read_bytes().strip())
    if len(raw) != KEY_BYTES:
        raise InvalidInput(f"vault key file {path} does not hold a {KEY_BYTES}-byte key")
    return raw
