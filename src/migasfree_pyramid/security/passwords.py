"""Password hashing: argon2id for new hashes; Django's PBKDF2 hashes still verify.

Accounts imported from a Django migasfree keep working; their hash is upgraded to argon2 at the
next successful login (``needs_rehash``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that both paths cost the same time and the
# response time does not tell which user names exist.
_DUMMY_HASH = _hasher.hash("migasfree-timing-equaliser")


def hash_password(raw: str) -> str:
    return _hasher.hash(raw)


def _verify_django_pbkdf2(raw: str, encoded: str) -> bool:
    algorithm, iterations, salt, expected = encoded.split("$", 3)
    digest = {"pbkdf2_sha256": "sha256", "pbkdf2_sha1": "sha1"}[algorithm]
    derived = hashlib.pbkdf2_hmac(digest, raw.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(base64.b64encode(derived).decode().strip(), expected)


def verify_password(raw: str, encoded: str | None) -> bool:
    """True when ``raw`` matches ``encoded``; an empty or unusable hash never matches."""
    if not encoded or encoded.startswith("!"):
        burn_time(raw)
        return False
    if encoded.startswith("pbkdf2_"):
        try:
            return _verify_django_pbkdf2(raw, encoded)
        except (ValueError, KeyError):
            return False
    try:
        return _hasher.verify(encoded, raw)
    except (VerificationError, InvalidHashError):
        return False


def burn_time(raw: str) -> None:
    """Spend the time of one verification, for unknown users."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, raw)


def needs_rehash(encoded: str) -> bool:
    if encoded.startswith("pbkdf2_"):
        return True
    try:
        return _hasher.check_needs_rehash(encoded)
    except InvalidHashError:
        return True
