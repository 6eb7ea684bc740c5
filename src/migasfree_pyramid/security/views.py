"""Login endpoints: JWT pair, refresh, verify, and the persistent API token (spec D.1)."""

from __future__ import annotations

import colander
from cornice import Service
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import select

from ..api.errors import APIError, error_entry
from ..api.schemas import Schema, json_body, validate
from ..models import UserProfile
from ..models.meta import utcnow
from .passwords import burn_time, hash_password, needs_rehash, verify_password
from .tokens import REFRESH, create_api_token

BAD_CREDENTIALS = "Unable to log in with provided credentials."
BAD_TOKEN = "Token is invalid or expired"  # noqa: S105 (a message, not a secret)


class CredentialsSchema(Schema):
    username = colander.SchemaNode(colander.String(), validator=colander.Length(1, 150))
    password = colander.SchemaNode(colander.String(), validator=colander.Length(1, 4096))


class RefreshSchema(Schema):
    refresh = colander.SchemaNode(colander.String(), validator=colander.Length(1, 4096))


class VerifySchema(Schema):
    token = colander.SchemaNode(colander.String(), validator=colander.Length(1, 4096))


def unauthorized(description: str, name: str = "") -> APIError:
    return APIError(401, [error_entry(description, name, "body")])


def verify_credentials(session, username: str, password: str) -> UserProfile | None:
    """The active user with these credentials, else None. Costs the same time either way."""
    user = session.scalars(select(UserProfile).where(UserProfile.username == username)).first()
    if user is None:
        burn_time(password)
        return None
    if not verify_password(password, user.password) or not user.is_active:
        return None
    if needs_rehash(user.password):
        user.password = hash_password(password)
    user.last_login = utcnow()
    return user


def authenticate(request) -> UserProfile:
    """The active user matching the posted credentials, or a 401 that does not say which part
    was wrong (no user enumeration)."""
    data = validate(CredentialsSchema(), json_body(request))
    user = verify_credentials(request.dbsession, data["username"], data["password"])
    if user is None:
        raise unauthorized(BAD_CREDENTIALS)
    return user


jwt_pair = Service(name="auth.jwt", path="/token-auth-jwt/", renderer="json")
jwt_refresh = Service(name="auth.jwt-refresh", path="/token-refresh/", renderer="json")
jwt_verify = Service(name="auth.jwt-verify", path="/api/token/verify/", renderer="json")
api_token = Service(name="auth.token", path="/token-auth/", renderer="json")


@jwt_pair.post(permission=NO_PERMISSION_REQUIRED)
def obtain_jwt_pair(request):
    user = authenticate(request)
    helper = request.registry["migasfree.jwt"]
    return {"access": helper.issue(user), "refresh": helper.issue(user, REFRESH)}


@jwt_refresh.post(permission=NO_PERMISSION_REQUIRED)
def refresh_jwt(request):
    data = validate(RefreshSchema(), json_body(request))
    helper = request.registry["migasfree.jwt"]
    claims = helper.decode(data["refresh"], REFRESH)
    user_id = (claims or {}).get("sub", "")
    user = request.dbsession.get(UserProfile, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active:
        raise unauthorized(BAD_TOKEN, "refresh")
    return {"access": helper.issue(user)}


@jwt_verify.post(permission=NO_PERMISSION_REQUIRED)
def verify_jwt(request):
    data = validate(VerifySchema(), json_body(request))
    if request.registry["migasfree.jwt"].decode(data["token"]) is None:
        raise unauthorized(BAD_TOKEN, "token")
    return {}


@api_token.post(permission=NO_PERMISSION_REQUIRED)
def obtain_api_token(request):
    """A new personal API token. Tokens are stored hashed, so unlike the original each call
    issues a fresh one (the earlier ones stay valid until revoked with ``update-token/``)."""
    user = authenticate(request)
    return {"token": create_api_token(request.dbsession, user)}


def includeme(config) -> None:
    for service in (jwt_pair, jwt_refresh, jwt_verify, api_token):
        config.add_cornice_service(service)
