"""User profiles (with token and password actions), groups and permissions through the admin API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from migasfree_pyramid.models import Group, Permission, UserProfile
from migasfree_pyramid.security.passwords import verify_password
from migasfree_pyramid.security.tokens import create_api_token

API = "/api/v1/token"
PROFILES = f"{API}/user-profiles/"
LIST_KEYS = {
    "pk",
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "domain_preference",
    "scope_preference",
    "is_superuser",
    "is_staff",
    "is_active",
    "last_login",
    "date_joined",
}


def grant_group(client, dbsession, name: str, pattern: str, username: str) -> UserProfile:
    """A non-superuser holding the permissions whose codename matches ``pattern``."""
    group = Group(
        name=name,
        permissions=list(
            dbsession.scalars(select(Permission).where(Permission.codename.like(pattern)))
        ),
    )
    dbsession.add(group)
    dbsession.flush()
    return client.user(username, groups=[name])


@pytest.fixture
def manager(client, dbsession):
    """Holds core.{view,add,change,delete}_userprofile, nothing else; not a superuser."""
    return grant_group(client, dbsession, "User managers", "%_userprofile", "manager")


@pytest.fixture
def auth_manager(client, dbsession):
    """Holds every auth.* permission (groups and permissions), not a superuser."""
    perms = list(
        dbsession.scalars(select(Permission).where(Permission.content_type.like("auth.%")))
    )
    group = Group(name="Auth managers", permissions=perms)
    dbsession.add(group)
    dbsession.flush()
    return client.user("auth-manager", groups=["Auth managers"])


def login(client, username: str, password: str):
    return client.app.post_json(
        "/token-auth-jwt/", {"username": username, "password": password}, status="*"
    )


def bearer(response) -> dict:
    return {"Authorization": f"Bearer {response.json['access']}"}


def usernames(response) -> list[str]:
    assert response.status_int == 200, response.text
    return [row["username"] for row in response.json["results"]]


# -- user profiles: reading --------------------------------------------------------------------


def test_profile_list_and_detail_shapes(client, make, dbsession):
    reader = client.role("reader")
    domain = make.domain("SHAPE")
    reader.domains = [domain]
    reader.domain_preference = domain
    perm = dbsession.scalars(select(Permission).where(Permission.codename == "view_store")).one()
    reader.user_permissions = [perm]
    dbsession.flush()
    listed = client.get(f"{PROFILES}?username=reader").json
    assert listed["count"] == 1
    row = listed["results"][0]
    assert set(row) == LIST_KEYS
    assert row["pk"] == row["id"] == reader.id
    assert row["domain_preference"] == domain.id and row["scope_preference"] is None
    assert row["is_superuser"] is False and row["is_staff"] is True and row["is_active"] is True
    assert row["last_login"] is None and row["date_joined"].startswith("20")
    detail = client.get(f"{PROFILES}{reader.id}/").json
    assert set(detail) == LIST_KEYS | {"domains", "groups", "user_permissions", "token"}
    assert detail["domains"] == [domain.id]
    assert [g["name"] for g in detail["groups"]] == ["Reader"]
    assert set(detail["groups"][0]) == {"id", "name"}
    assert detail["user_permissions"] == [
        {"id": perm.id, "name": "Can view store", "codename": "view_store"}
    ]
    # Tokens are stored hashed: they cannot be shown again.
    assert detail["token"] is None


def test_profile_filters_search_ordering_pagination(client, make, dbsession):
    domain = make.domain("FILTERS")
    make.user("ann", first_name="Ann", last_name="Smith", is_active=False)
    make.user("bea", first_name="Beatrice", last_name="Jones", is_staff=True, domains=[domain])
    make.user("cid", first_name="Cid", last_name="Annan", is_superuser=True)
    assert usernames(client.get(PROFILES)) == ["admin", "ann", "bea", "cid"]
    assert usernames(client.get(PROFILES + "?username=bea")) == ["bea"]
    assert usernames(client.get(PROFILES + "?username__icontains=NN")) == ["ann"]
    assert usernames(client.get(PROFILES + "?first_name__icontains=ce")) == ["bea"]
    assert usernames(client.get(PROFILES + "?last_name=Annan")) == ["cid"]
    assert usernames(client.get(PROFILES + f"?domains__id={domain.id}")) == ["bea"]
    assert usernames(client.get(PROFILES + "?is_active=false")) == ["ann"]
    assert "cid" in usernames(client.get(PROFILES + "?is_superuser=true"))
    assert "ann" not in usernames(client.get(PROFILES + "?is_staff=true"))
    assert usernames(client.get(PROFILES + "?search=ann")) == ["ann", "cid"]
    assert usernames(client.get(PROFILES + "?search=ann smith")) == ["ann"]
    ordered = usernames(client.get(PROFILES + "?ordering=-username"))
    assert ordered == sorted(ordered, reverse=True)
    by_last_name = PROFILES + "?ordering=last_name&last_name__icontains=n"
    assert usernames(client.get(by_last_name)) == ["cid", "bea"]
    page = client.get(PROFILES + "?page_size=1&page=2&search=ann").json
    assert page["count"] == 2 and [r["username"] for r in page["results"]] == ["cid"]
    assert client.get(PROFILES + "?is_active=maybe").status_int == 400
    assert client.get(PROFILES + "?ordering=password").status_int == 400
    assert client.post(PROFILES + "filter/", {"username": "bea"}).json["count"] == 1
    exported = client.get(PROFILES + "export/?username=bea")
    assert exported.content_type == "text/csv"
    assert "password" not in exported.text and "bea" in exported.text


def test_domain_admins_action(client, make):
    alice = client.user("alice", groups=["Reader", "Domain Admin"])
    client.user("zed", groups=["Domain Admin"])
    client.user("plain", groups=["Reader"])
    response = client.get(f"{PROFILES}domain-admins/", as_="reader")
    assert response.status_int == 200
    assert isinstance(response.json, list)
    assert [u["username"] for u in response.json] == ["alice", "zed"]
    assert set(response.json[0]) == LIST_KEYS and response.json[0]["id"] == alice.id
    assert client.get(f"{PROFILES}domain-admins/", as_="nobody").status_int == 403


def test_profile_list_statement_count(client, make, statements):
    headers = client.headers(client.role("reader"))
    with statements:
        client.app.get(PROFILES, headers=headers)
    few = statements.count
    domain = make.domain()
    for i in range(10):
        make.user(f"bulk{i}", domains=[domain], domain_preference=domain)
    with statements:
        response = client.app.get(PROFILES, headers=headers)
    assert statements.count == few and response.json["count"] == 11


# -- user profiles: writing --------------------------------------------------------------------


def test_create_with_password_then_login(client, dbsession):
    created = client.post(
        PROFILES,
        {
            "username": "new.user@x",
            "password": "s3cret-pass",
            "email": "new@example.org",
            "first_name": "New",
            "groups": [dbsession.scalars(select(Group.id).where(Group.name == "Reader")).one()],
        },
    )
    assert created.status_int == 201, created.text
    body = created.json
    assert "password" not in body
    assert body["username"] == "new.user@x" and body["email"] == "new@example.org"
    assert body["is_superuser"] is False and body["is_staff"] is False and body["is_active"]
    assert [g["name"] for g in body["groups"]] == ["Reader"]
    stored = dbsession.get(UserProfile, body["id"]).password
    assert stored != "s3cret-pass" and stored.startswith("$argon2")
    assert verify_password("s3cret-pass", stored)
    assert login(client, "new.user@x", "wrong-pass").status_int == 401
    tokens = login(client, "new.user@x", "s3cret-pass")
    assert tokens.status_int == 200
    me = client.app.get(f"{PROFILES}{body['id']}/", headers=bearer(tokens), status="*")
    assert me.status_int == 200 and me.json["username"] == "new.user@x"


def test_create_without_password_cannot_login(client):
    created = client.post(PROFILES, {"username": "nopass"})
    assert created.status_int == 201
    assert login(client, "nopass", "").status_int == 400
    assert login(client, "nopass", "anything-1").status_int == 401
    short = client.post(PROFILES, {"username": "short", "password": "1234567"})
    assert short.status_int == 400 and short.json["errors"][0]["name"] == "password"


def test_profile_update_and_delete(client, make, dbsession):
    user = make.user("editme")
    url = f"{PROFILES}{user.id}/"
    patched = client.patch(url, {"first_name": "Ed", "is_staff": True})
    assert patched.status_int == 200, patched.text
    assert patched.json["first_name"] == "Ed" and patched.json["is_staff"] is True
    put = client.put(url, {"username": "edited", "last_name": "Smith"})
    assert put.status_int == 200
    assert (put.json["username"], put.json["first_name"], put.json["last_name"]) == (
        "edited",
        "",
        "Smith",
    )
    assert put.json["is_staff"] is False  # PUT: omitted fields take their defaults
    # A password sent on update is ignored: change-password/ is the way.
    client.patch(url, {"password": "ignored-pass"})
    assert login(client, "edited", "ignored-pass").status_int == 401
    assert client.delete(url).status_int == 204
    assert client.get(url).status_int == 404


def test_profile_validation(client, make, dbsession):
    make.user("taken")
    cases = [
        ("username", {}),
        ("username", {"username": ""}),
        ("username", {"username": "has space"}),
        ("username", {"username": "x" * 151}),
        ("username", {"username": "taken"}),
        ("email", {"username": "a1", "email": "not-an-email"}),
        ("domains", {"username": "a1", "domains": [999999]}),
        ("groups", {"username": "a1", "groups": ["x"]}),
        ("user_permissions", {"username": "a1", "user_permissions": [999999]}),
        ("domain_preference", {"username": "a1", "domain_preference": 999999}),
        ("scope_preference", {"username": "a1", "scope_preference": 999999}),
        ("is_active", {"username": "a1", "is_active": "perhaps"}),
    ]
    for field, body in cases:
        response = client.post(PROFILES, body)
        assert response.status_int == 400, (body, response.text)
        assert response.json["errors"][0]["name"] == field
    assert client.get(f"{PROFILES}999999/").status_int == 404


def test_domain_preference_must_be_one_of_the_domains(client, make):
    mine, other = make.domain("MINE"), make.domain("OTHER")
    body = {"username": "pref", "domains": [mine.id], "domain_preference": other.id}
    refused = client.post(PROFILES, body)
    assert refused.status_int == 400
    assert refused.json["errors"][0] == {
        "location": "body",
        "name": "domain_preference",
        "description": "Domain preference not in selected Domains",
    }
    created = client.post(PROFILES, {**body, "domain_preference": mine.id})
    assert created.status_int == 201 and created.json["domain_preference"] == mine.id
    url = f"{PROFILES}{created.json['id']}/"
    # Dropping the preferred domain while keeping the preference is refused too.
    assert client.patch(url, {"domains": [other.id]}).status_int == 400
    assert client.patch(url, {"domain_preference": None}).json["domain_preference"] is None
    # Superusers may prefer any domain.
    root = client.post(
        PROFILES, {"username": "root2", "is_superuser": True, "domain_preference": other.id}
    )
    assert root.status_int == 201 and root.json["domain_preference"] == other.id


def test_scope_preference_must_be_owned(client, make):
    owner = make.user("owner")
    stranger = make.user("stranger")
    scope = make.scope(owner, name="mine")
    foreign = make.scope(stranger, name="theirs")
    url = f"{PROFILES}{owner.id}/"
    assert client.patch(url, {"scope_preference": scope.id}).json["scope_preference"] == scope.id
    refused = client.patch(url, {"scope_preference": foreign.id})
    assert refused.status_int == 400 and refused.json["errors"][0]["name"] == "scope_preference"
    created = client.post(PROFILES, {"username": "fresh", "scope_preference": scope.id})
    assert created.status_int == 400


def test_only_superusers_grant_superuser(client, make, manager):
    refused = client.post(PROFILES, {"username": "evil", "is_superuser": True}, as_=manager)
    assert refused.status_int == 403
    created = client.post(PROFILES, {"username": "fine", "password": "long-enough"}, as_=manager)
    assert created.status_int == 201, created.text
    url = f"{PROFILES}{created.json['id']}/"
    assert client.patch(url, {"is_superuser": True}, as_=manager).status_int == 403
    assert (
        client.patch(url, {"is_superuser": False, "last_name": "X"}, as_=manager).status_int == 200
    )
    assert client.patch(url, {"is_superuser": True}).json["is_superuser"] is True
    # Superuser accounts are out of reach of non-superusers (no takeover through a password).
    assert client.patch(url, {"is_superuser": False}, as_=manager).status_int == 403
    assert client.patch(url, {"first_name": "x"}, as_=manager).status_int == 403
    body = {"password": "takeover-1", "password2": "takeover-1"}
    assert client.put(f"{url}change-password/", body, as_=manager).status_int == 403
    assert client.post(f"{url}update-token/", as_=manager).status_int == 403
    assert client.delete(url, as_=manager).status_int == 403
    assert client.get(url, as_=manager).status_int == 200


def test_profile_permissions(client, make, manager):
    user = make.user("target")
    url = f"{PROFILES}{user.id}/"
    assert client.get(PROFILES, as_="anonymous").status_int == 401
    assert client.get(PROFILES, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(PROFILES, {"username": "x"}, as_="reader").status_int == 403
    # Restricted users (domain admins) see only their own account: others are 404 (issue 5).
    assert client.patch(url, {"first_name": "x"}, as_="domain-admin").status_int == 404
    assert client.delete(url, as_="liberator").status_int == 403
    assert client.post(PROFILES, {"username": "by-manager"}, as_=manager).status_int == 201
    assert client.patch(url, {"first_name": "x"}, as_=manager).status_int == 200
    assert client.delete(url, as_=manager).status_int == 204


# -- user profiles: token and password actions -------------------------------------------------


def test_update_token_gives_a_working_token(client, dbsession):
    reader = client.role("reader")
    old = create_api_token(dbsession, reader)
    dbsession.flush()
    url = f"{PROFILES}{reader.id}/update-token/"

    def with_token(key):
        return client.app.get(PROFILES, headers={"Authorization": f"Token {key}"}, status="*")

    assert with_token(old).status_int == 200
    response = client.post(url, as_="reader")  # the user themself
    assert response.status_int == 200, response.text
    assert response.json["detail"] == "Token updated!"
    key = response.json["info"]
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert with_token(key).status_int == 200
    assert with_token(old).status_int == 401
    again = client.post(url).json["info"]  # a superuser may renew anyone's token
    assert again != key and with_token(key).status_int == 401
    assert with_token(again).status_int == 200
    # Retrieve never shows the key.
    assert client.get(f"{PROFILES}{reader.id}/").json["token"] is None


def test_update_token_for_someone_else_needs_change_permission(client, make, manager):
    other = make.user("other")
    url = f"{PROFILES}{other.id}/update-token/"
    assert client.post(url, as_="reader").status_int == 403
    assert client.post(url, as_="anonymous").status_int == 401
    assert client.post(url, as_=manager).status_int == 200
    assert client.get(url).status_int in (404, 405)


def test_change_password(client, make, manager):
    user = client.role("nobody")  # no permission at all: may still change their own password
    url = f"{PROFILES}{user.id}/change-password/"
    short = client.put(url, {"password": "1234567", "password2": "1234567"}, as_="nobody")
    assert short.status_int == 400 and short.json["errors"][0]["name"] == "password"
    mismatch = client.put(url, {"password": "12345678", "password2": "12345679"}, as_="nobody")
    assert mismatch.status_int == 400 and mismatch.json["errors"][0]["name"] == "password2"
    missing = client.put(url, {"password": "12345678"}, as_="nobody")
    assert missing.status_int == 400 and missing.json["errors"][0]["name"] == "password2"
    assert client.put(url, {"password": 12345678, "password2": []}, as_="nobody").status_int == 400
    ok = client.put(url, {"password": "brand-new-1", "password2": "brand-new-1"}, as_="nobody")
    assert ok.status_int == 200 and ok.json == {"detail": "Password changed!"}
    assert login(client, "nobody", "secret-pass").status_int == 401
    assert login(client, "nobody", "brand-new-1").status_int == 200
    other = make.user("victim")
    other_url = f"{PROFILES}{other.id}/change-password/"
    body = {"password": "other-pass-1", "password2": "other-pass-1"}
    assert client.put(other_url, body, as_="nobody").status_int == 403
    assert client.put(other_url, body, as_="reader").status_int == 403
    assert client.put(other_url, body, as_=manager).status_int == 200
    assert login(client, "victim", "other-pass-1").status_int == 200
    assert client.put(f"{PROFILES}999999/change-password/", body).status_int == 404


# -- groups ------------------------------------------------------------------------------------


def perm_ids(dbsession, *codenames) -> list[int]:
    return list(dbsession.scalars(select(Permission.id).where(Permission.codename.in_(codenames))))


def test_group_crud(client, dbsession):
    ids = perm_ids(dbsession, "view_store", "add_store")
    created = client.post(f"{API}/accounts/groups/", {"name": "Store keepers", "permissions": ids})
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json["name"] == "Store keepers"
    assert [p["codename"] for p in created.json["permissions"]] == ["add_store", "view_store"]
    assert set(created.json["permissions"][0]) == {"id", "name", "codename"}
    assert client.get(f"{API}/accounts/groups/{pk}/").json == created.json
    patched = client.patch(f"{API}/accounts/groups/{pk}/", {"permissions": ids[:1]})
    assert len(patched.json["permissions"]) == 1
    put = client.put(f"{API}/accounts/groups/{pk}/", {"name": "Keepers"})
    assert put.json == {"id": pk, "name": "Keepers", "permissions": []}
    assert client.delete(f"{API}/accounts/groups/{pk}/").status_int == 204
    assert client.get(f"{API}/accounts/groups/{pk}/").status_int == 404


def test_group_validation(client):
    url = f"{API}/accounts/groups/"
    assert client.post(url, {}).json["errors"][0]["name"] == "name"
    duplicate = client.post(url, {"name": "Reader"})
    assert duplicate.status_int == 400 and duplicate.json["errors"][0]["name"] == "name"
    assert client.post(url, {"name": "x" * 151}).status_int == 400
    bad = client.post(url, {"name": "g", "permissions": [999999]})
    assert bad.status_int == 400 and bad.json["errors"][0]["name"] == "permissions"
    assert client.post(url, {"name": "g", "permissions": "all"}).status_int == 400


def test_group_filters_and_permissions(client, auth_manager):
    url = f"{API}/accounts/groups/"
    names = lambda r: [g["name"] for g in r.json["results"]]  # noqa: E731
    everyone = names(client.get(url))
    assert everyone == sorted(everyone) and "Domain Admin" in everyone
    assert names(client.get(url + "?name=Packager")) == ["Packager"]
    assert names(client.get(url + "?name__icontains=INSTALL")) == ["Device installer"]
    assert names(client.get(url + "?search=read")) == ["Reader"]
    alice = client.user("alice", groups=["Reader", "Domain Admin"])
    assert names(client.get(url + f"?user__id={alice.id}")) == ["Domain Admin", "Reader"]
    assert names(client.get(url + "?ordering=-name"))[0] == "Reader"
    reader_id = client.get(url + "?name=Reader").json["results"][0]["id"]
    assert names(client.get(url + f"?id__in={reader_id}")) == ["Reader"]
    assert len(client.get(url + "?page_size=2").json["results"]) == 2
    exported = client.get(url + "export/?name=Packager")
    assert exported.text.splitlines()[0] == "id,name,permissions"
    assert "Can add package" in exported.text
    assert client.get(url, as_="anonymous").status_int == 401
    # No default group holds auth permissions: only superusers and explicit grants.
    assert client.get(url, as_="reader").status_int == 403
    assert client.post(url, {"name": "x"}, as_="configurator").status_int == 403
    assert client.get(url, as_=auth_manager).status_int == 200
    assert client.post(url, {"name": "mine"}, as_=auth_manager).status_int == 201


def test_group_list_statement_count(client, dbsession, statements):
    headers = client.headers(client.role("admin"))
    with statements:
        client.app.get(f"{API}/accounts/groups/", headers=headers)
    few = statements.count
    perms = list(dbsession.scalars(select(Permission).limit(5)))
    for i in range(10):
        dbsession.add(Group(name=f"extra-{i}", permissions=perms))
    dbsession.flush()
    with statements:
        response = client.app.get(f"{API}/accounts/groups/", headers=headers)
    assert statements.count == few and response.json["count"] > 10


# -- permissions -------------------------------------------------------------------------------


def test_permissions_list(client, dbsession, auth_manager):
    url = f"{API}/accounts/permissions/"
    listed = client.get(url + "?page_size=10000").json
    rows = listed["results"]
    assert set(rows[0]) == {"id", "name", "content_type", "codename"}
    keys = [(r["content_type"], r["codename"]) for r in rows]
    assert keys == sorted(keys)
    store = next(r for r in rows if r["codename"] == "view_store")
    assert store["content_type"] == "core.store" and store["name"] == "Can view store"
    assert client.get(f"{url}{store['id']}/").json == store
    assert [r["codename"] for r in client.get(url + f"?id={store['id']}").json["results"]] == [
        "view_store"
    ]
    found = client.get(url + "?name__icontains=schedule delay").json["results"]
    assert {r["codename"] for r in found} == {
        "view_scheduledelay",
        "add_scheduledelay",
        "change_scheduledelay",
        "delete_scheduledelay",
    }
    assert client.get(url + "?search=view store").json["count"] == 1
    assert client.get(url + "?name=Can view store").json["count"] == 1
    by_codename = client.get(url + "?ordering=-codename&page_size=1").json["results"][0]
    assert by_codename["codename"] == max(r["codename"] for r in rows)
    # Read-only, and no export.
    assert client.post(url, {"name": "x"}).status_int in (404, 405)
    assert client.delete(f"{url}{store['id']}/").status_int in (404, 405)
    assert client.get(url + "export/").status_int == 404
    assert client.get(url, as_="reader").status_int == 403
    assert client.get(url, as_=auth_manager).status_int == 200
    assert client.get(url, as_="anonymous").status_int == 401


def test_permissions_list_statement_count(client, statements):
    headers = client.headers(client.role("admin"))
    with statements:
        client.app.get(f"{API}/accounts/permissions/?page_size=5", headers=headers)
    few = statements.count
    with statements:
        client.app.get(f"{API}/accounts/permissions/?page_size=500", headers=headers)
    assert statements.count == few
