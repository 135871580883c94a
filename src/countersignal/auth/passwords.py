"""Password hashing with argon2id (argon2-cffi's current defaults).

``PasswordHasher.verify`` compares in constant time; ``check_needs_rehash`` tells us when the
stored hash used older parameters, and we upgrade it at the next successful login.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from countersignal.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
"""Bounds the work an attacker can make us do per login attempt."""

hasher = PasswordHasher()


def check_password_policy(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"passwords need {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )


def hash_password(password: str) -> str:
    check_password_policy(password)
    return hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Constant-time check. A missing hash still costs one argon2 verify, so unknown users and
    password-less users take as long to refuse as a wrong password."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return hasher.verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hasher.hash(secrets.token_urlsafe(24))
