"""Admin credentials: JWT access/refresh pairs (pyramid_jwt as the helper) and API tokens.

API tokens are 40 hex characters like the original's DRF tokens (clients may check the format),
but only their SHA-256 is stored: a leaked database does not leak working credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

import jwt as pyjwt
from pyramid_jwt import JWTAuthenticationPolicy
from sqlalchemy import select

from ..models import ApiToken, UserProfile
from ..models.meta import utcnow

ACCESS = "access"
REFRESH = "refresh"


class JWTHelper:
    """Issues and reads our JWTs. HS256 with a secret of at least 32 bytes (checked by settings)."""

    def __init__(self, secret: str, access_minutes: int, refresh_minutes: int):
        self.secret = secret
        self.access = dt.timedelta(minutes=access_minutes)
        self.refresh = dt.timedelta(minutes=refresh_minutes)
        self.policy = JWTAuthenticationPolicy(
            secret, algorithm="HS256", auth_type="Bearer", expiration=self.access
        )

    def issue(self, user: UserProfile, token_type: str = ACCESS) -> str:
        lifetime = self.access if token_type == ACCESS else self.refresh
        # PyJWT rejects a non-string "sub"; user_id keeps simplejwt's claim for old clients.
        return self.policy.create_token(
            str(user.id),
            expiration=lifetime,
            token_type=token_type,
            user_id=user.id,
            jti=uuid.uuid4().hex,
        )

    def request_claims(self, request) -> dict:
        """Claims of a valid ``Authorization: Bearer`` access token, else ``{}``."""
        claims = self.policy.get_claims(request)
        return claims if claims.get("token_type") == ACCESS else {}

    def decode(self, token: str, token_type: str | None = None) -> dict | None:
        try:
            claims = pyjwt.decode(token, self.secret, algorithms=["HS256"])
        except pyjwt.PyJWTError:
            return None
        if token_type and claims.get("token_type") != token_type:
            return None
        return claims


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_token(session, user: UserProfile) -> str:
    """Create a token for ``user`` and return its key (shown once, never stored)."""
    key = secrets.token_hex(20)
    session.add(ApiToken(user_id=user.id, key_hash=hash_key(key)))
    return key


def revoke_api_tokens(session, user: UserProfile) -> None:
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        session.delete(token)


def user_for_api_token(session, key: str) -> UserProfile | None:
    if len(key) > 128:
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.key_hash == hash_key(key))).first()
    if token is None:
        return None
    now = utcnow()
    # Write at most once an hour: a token used by every request must not cost a write each time.
    if token.last_used is None or now - token.last_used > dt.timedelta(hours=1):
        token.last_used = now
    return token.user
