"""Admin authentication: JWT pair, refresh and verify, API tokens, and how bad credentials fail.

Every failure answers in the common error shape; a wrong password and an unknown user answer
the very same body (no user enumeration); no Authorization header, however broken, gives a 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import jwt as pyjwt
import pytest
from sqlalchemy import select

from migasfree_pyramid.models import ApiToken

PROTECTED = "/api/v1/token/projects/"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def admin(client):
    return client.user("auth-admin", superuser=True, password=PASSWORD)


@pytest.fixture
def secret(registry) -> str:
    return registry.settings["migasfree.jwt_secret"]


def login(client, username="auth-admin", password=PASSWORD, path="/token-auth-jwt/"):
    return client.post(path, {"username": username, "password": password}, as_="anonymous")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def get_protected(client, headers: dict):
    return client.get(PROTECTED, as_="anonymous", headers=headers)


def craft(secret: str, user_id: int, token_type="access", minutes=5, **extra) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": str(user_id),
        "user_id": user_id,
        "token_type": token_type,
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
        **extra,
    }
    return pyjwt.encode(claims, secret, algorithm="HS256")


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json
    assert body["status"] == "error"
    assert body["errors"]
    for entry in body["errors"]:
        assert set(entry) == {"location", "name", "description"}
    return body


class TestJwtPair:
    def test_login_gives_access_and_refresh(self, client, admin, secret):
        response = login(client)
        assert response.status_code == 200
        assert set(response.json) == {"access", "refresh"}
        access = pyjwt.decode(response.json["access"], secret, algorithms=["HS256"])
        refresh = pyjwt.decode(response.json["refresh"], secret, algorithms=["HS256"])
        assert access["token_type"] == "access"
        assert refresh["token_type"] == "refresh"
        assert access["sub"] == refresh["sub"] == str(admin.id)
        assert access["user_id"] == admin.id
        assert refresh["exp"] > access["exp"]
        assert admin.last_login is not None

    def test_access_token_opens_the_api(self, client, admin):
        access = login(client).json["access"]
        response = get_protected(client, bearer(access))
        assert response.status_code == 200
        assert set(response.json) == {"count", "next", "previous", "results"}

    def test_refresh_gives_a_new_working_access_token(self, client, admin, secret):
        pair = login(client).json
        response = client.post("/token-refresh/", {"refresh": pair["refresh"]}, as_="anonymous")
        assert response.status_code == 200
        assert set(response.json) == {"access"}
        claims = pyjwt.decode(response.json["access"], secret, algorithms=["HS256"])
        assert claims["token_type"] == "access"
        assert get_protected(client, bearer(response.json["access"])).status_code == 200

    def test_refresh_token_is_not_an_access_token(self, client, admin):
        refresh = login(client).json["refresh"]
        assert_error(get_protected(client, bearer(refresh)), 401)

    def test_access_token_cannot_refresh(self, client, admin):
        access = login(client).json["access"]
        response = client.post("/token-refresh/", {"refresh": access}, as_="anonymous")
        body = assert_error(response, 401)
        assert body["errors"][0]["name"] == "refresh"

    def test_verify(self, client, admin):
        pair = login(client).json
        for token in (pair["access"], pair["refresh"]):
            response = client.post("/api/token/verify/", {"token": token}, as_="anonymous")
            assert response.status_code == 200
            assert response.json == {}
        response = client.post("/api/token/verify/", {"token": "not-a-jwt"}, as_="anonymous")
        assert assert_error(response, 401)["errors"][0]["name"] == "token"


class TestExpiredAndForged:
    def test_expired_access_token_is_refused(self, client, admin, secret):
        expired = craft(secret, admin.id, minutes=-1)
        assert_error(get_protected(client, bearer(expired)), 401)
        response = client.post("/api/token/verify/", {"token": expired}, as_="anonymous")
        assert_error(response, 401)

    def test_expired_refresh_token_is_refused(self, client, admin, secret):
        expired = craft(secret, admin.id, token_type="refresh", minutes=-1)
        response = client.post("/token-refresh/", {"refresh": expired}, as_="anonymous")
        assert_error(response, 401)

    def test_a_crafted_token_with_the_right_secret_works(self, client, admin, secret):
        """The control for the tests around it: the crafting itself is sound."""
        assert get_protected(client, bearer(craft(secret, admin.id))).status_code == 200

    def test_token_signed_with_another_secret_is_refused(self, client, admin):
        forged = craft("another-secret-another-secret-0123456789", admin.id)
        assert_error(get_protected(client, bearer(forged)), 401)

    def test_unsigned_token_is_refused(self, client, admin):
        now = dt.datetime.now(dt.UTC)
        claims = {"sub": str(admin.id), "token_type": "access", "exp": now + dt.timedelta(1)}
        unsigned = pyjwt.encode(claims, None, algorithm="none")
        assert_error(get_protected(client, bearer(unsigned)), 401)

    def test_token_of_a_deleted_user_is_refused(self, client, admin, secret):
        assert_error(get_protected(client, bearer(craft(secret, 987654321))), 401)
        response = client.post(
            "/token-refresh/",
            {"refresh": craft(secret, 987654321, token_type="refresh")},
            as_="anonymous",
        )
        assert_error(response, 401)


class TestApiToken:
    def test_token_is_issued_and_opens_the_api(self, client, admin, dbsession):
        response = login(client, path="/token-auth/")
        assert response.status_code == 200
        key = response.json["token"]
        assert len(key) == 40
        int(key, 16)  # hexadecimal, like the original's tokens
        ok = get_protected(client, {"Authorization": f"Token {key}"})
        assert ok.status_code == 200

    def test_only_the_hash_is_stored(self, client, admin, dbsession):
        key = login(client, path="/token-auth/").json["token"]
        stored = dbsession.scalars(select(ApiToken).where(ApiToken.user_id == admin.id)).all()
        assert [row.key_hash for row in stored] == [hashlib.sha256(key.encode()).hexdigest()]

    def test_each_call_issues_a_new_token_and_both_work(self, client, admin):
        first = login(client, path="/token-auth/").json["token"]
        second = login(client, path="/token-auth/").json["token"]
        assert first != second
        for key in (first, second):
            assert get_protected(client, {"Authorization": f"Token {key}"}).status_code == 200

    def test_unknown_token_is_refused(self, client, admin):
        assert_error(get_protected(client, {"Authorization": "Token " + "0" * 40}), 401)

    def test_token_of_an_inactive_user_is_refused(self, client, admin):
        key = login(client, path="/token-auth/").json["token"]
        admin.is_active = False
        assert_error(get_protected(client, {"Authorization": f"Token {key}"}), 401)


class TestBadCredentials:
    @pytest.mark.parametrize("path", ["/token-auth-jwt/", "/token-auth/"])
    def test_wrong_password_and_unknown_user_answer_the_same(self, client, admin, path):
        wrong_password = login(client, password="wrong-password", path=path)
        unknown_user = login(client, username="nobody-at-all", path=path)
        body = assert_error(wrong_password, 401)
        assert assert_error(unknown_user, 401) == body
        assert wrong_password.headers.get("WWW-Authenticate") == unknown_user.headers.get(
            "WWW-Authenticate"
        )
        assert "nobody" not in unknown_user.text
        assert body["errors"][0]["description"] == "Unable to log in with provided credentials."

    def test_inactive_user_cannot_log_in(self, client, admin):
        wrong = login(client, password="wrong-password")
        admin.is_active = False
        response = login(client)
        assert assert_error(response, 401) == wrong.json

    def test_inactive_user_loses_its_tokens(self, client, admin):
        pair = login(client).json
        admin.is_active = False
        assert_error(get_protected(client, bearer(pair["access"])), 401)
        response = client.post("/token-refresh/", {"refresh": pair["refresh"]}, as_="anonymous")
        assert_error(response, 401)

    def test_anonymous_gets_401_with_a_challenge(self, client):
        response = get_protected(client, {})
        assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer",
            "Bearer ",
            "Bearer abc.def.ghi",
            "Bearer " + "x" * 20000,
            "Bearer \xe9\xe8.\xff",
            "bearer lowercase-scheme",
            "Token",
            "Token ",
            "Token " + "f" * 500,
            "Token a b c",
            "Basic Zm9vOmJhcg==",
            "JWT something",
            "Digest username=x",
            "   ",
            "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
            "Bearer " + base64.urlsafe_b64encode(b"{}").decode() + "..",
        ],
    )
    def test_garbage_authorization_headers_answer_401(self, client, admin, header):
        response = get_protected(client, {"Authorization": header})
        assert_error(response, 401)


class TestMalformedRequests:
    @pytest.mark.parametrize(
        "path", ["/token-auth-jwt/", "/token-auth/", "/token-refresh/", "/api/token/verify/"]
    )
    @pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"a string"', b"\xff\xfe"])
    def test_malformed_json_is_400(self, testapp, path, body):
        response = testapp.post(
            path, body, headers={"Content-Type": "application/json"}, status="*"
        )
        assert_error(response, 400)

    @pytest.mark.parametrize(
        ("payload", "missing"),
        [
            ({"password": PASSWORD}, "username"),
            ({"username": "auth-admin"}, "password"),
            ({"username": "", "password": PASSWORD}, "username"),
            ({"username": ["auth-admin"], "password": PASSWORD}, "username"),
            ({"username": "auth-admin", "password": None}, "password"),
        ],
    )
    def test_missing_or_wrong_fields_are_400_naming_them(self, client, admin, payload, missing):
        response = client.post("/token-auth-jwt/", payload, as_="anonymous")
        body = assert_error(response, 400)
        assert missing in {entry["name"] for entry in body["errors"]}

    def test_refresh_and_verify_name_their_field(self, client):
        response = client.post("/token-refresh/", {}, as_="anonymous")
        assert "refresh" in {entry["name"] for entry in assert_error(response, 400)["errors"]}
        response = client.post("/api/token/verify/", {}, as_="anonymous")
        assert "token" in {entry["name"] for entry in assert_error(response, 400)["errors"]}

    def test_get_is_not_a_login(self, client):
        assert client.get("/token-auth-jwt/", as_="anonymous").status_code == 405


def django_pbkdf2(password: str, salt: str = "migasfreesalt1234", iterations: int = 1000) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


class TestDjangoPasswords:
    def test_django_hash_verifies_and_is_upgraded_to_argon2(self, client):
        user = client.user("imported", superuser=True)
        user.password = django_pbkdf2("imported-password")
        response = login(client, username="imported", password="imported-password")
        assert response.status_code == 200
        assert user.password.startswith("$argon2id$")
        # The upgraded hash still opens the door.
        again = login(client, username="imported", password="imported-password")
        assert again.status_code == 200

    def test_wrong_password_on_a_django_hash_is_refused_and_not_upgraded(self, client):
        user = client.user("imported2", superuser=True)
        user.password = legacy = django_pbkdf2("imported-password")
        response = login(client, username="imported2", password="not-it")
        assert_error(response, 401)
        assert user.password == legacy
