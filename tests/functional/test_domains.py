"""Domains (with their DMN tag) and scopes (private, per owner) through the admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from migasfree_pyramid.models import Attribute, Domain, Group, Permission, Property, Scope

API = "/api/v1/token"
ATTRIBUTE_KEYS = {"id", "property_att", "value", "description", "latitude", "longitude"}


def dmn_values(session) -> list[str]:
    return sorted(
        session.scalars(
            select(Attribute.value).join(Property).where(Property.prefix == "DMN")
        ).all()
    )


def results(response, key="name"):
    assert response.status_int == 200, response.text
    return [row[key] for row in response.json["results"]]


@pytest.fixture
def domain_manager(client, dbsession):
    """A non-superuser granted every core.*_domain permission through a custom group."""
    group = Group(
        name="Domain managers",
        permissions=list(
            dbsession.scalars(select(Permission).where(Permission.codename.like("%_domain")))
        ),
    )
    dbsession.add(group)
    dbsession.flush()
    return client.user("domain-manager", groups=["Domain managers"])


# -- domains -----------------------------------------------------------------------------------


def test_domain_create_normalizes_name_and_includes_its_tag(client, make, dbsession):
    teacher = make.attribute("ROL", "teacher")
    created = client.post(
        f"{API}/domains/",
        {"name": "Sales Madrid!", "comment": "south", "included_attributes": [teacher.id]},
    )
    assert created.status_int == 201, created.text
    body = created.json
    assert set(body) == {
        "id",
        "name",
        "comment",
        "included_attributes",
        "excluded_attributes",
        "tags",
        "domain_admins",
    }
    assert body["name"] == "SALES-MADRID" and body["comment"] == "south"
    included = {(a["property_att"]["prefix"], a["value"]) for a in body["included_attributes"]}
    assert included == {("ROL", "teacher"), ("DMN", "SALES-MADRID")}
    own = next(a for a in body["included_attributes"] if a["property_att"]["prefix"] == "DMN")
    assert set(own) == ATTRIBUTE_KEYS and own["property_att"]["sort"] == "server"
    assert own["description"] == ""
    prop = dbsession.scalars(select(Property).where(Property.prefix == "DMN")).one()
    assert (prop.name, prop.sort, prop.kind) == ("DOMAIN", "server", "L")
    assert body["excluded_attributes"] == [] and body["tags"] == []
    assert body["domain_admins"] == []
    assert client.get(f"{API}/domains/{body['id']}/").json == body


def test_domain_always_keeps_its_tag_included(client, make, dbsession):
    domain = client.post(f"{API}/domains/", {"name": "north"}).json
    url = f"{API}/domains/{domain['id']}/"
    assert [a["value"] for a in domain["included_attributes"]] == ["NORTH"]
    other = make.attribute("ROL", "student")
    put = client.put(url, {"name": "north", "included_attributes": [other.id]})
    assert put.status_int == 200, put.text
    assert sorted(a["value"] for a in put.json["included_attributes"]) == ["NORTH", "student"]
    patched = client.patch(url, {"included_attributes": []})
    assert [a["value"] for a in patched.json["included_attributes"]] == ["NORTH"]
    assert dmn_values(dbsession).count("NORTH") == 1


def test_domain_rename_renames_its_tags(client, make, dbsession):
    domain = make.domain("SALES")
    own = domain.included_attributes[-1]
    floor = make.attribute("DMN", "SALES.floor1")
    other = make.attribute("DMN", "SALESFORCE")
    renamed = client.patch(f"{API}/domains/{domain.id}/", {"name": "Ventas Norte"})
    assert renamed.status_int == 200, renamed.text
    assert renamed.json["name"] == "VENTAS-NORTE"
    dbsession.expire_all()
    assert dbsession.get(Attribute, own.id).value == "VENTAS-NORTE"
    assert dbsession.get(Attribute, floor.id).value == "VENTAS-NORTE.floor1"
    assert dbsession.get(Attribute, other.id).value == "SALESFORCE"
    included = [a["id"] for a in renamed.json["included_attributes"]]
    assert included == [own.id]
    # Renaming onto an existing DMN value would merge two tags: refused.
    make.attribute("DMN", "TAKEN")
    clash = client.patch(f"{API}/domains/{domain.id}/", {"name": "taken"})
    assert clash.status_int == 400 and clash.json["errors"][0]["name"] == "name"
    assert client.get(f"{API}/domains/{domain.id}/").json["name"] == "VENTAS-NORTE"


def test_domain_delete_removes_its_tags(client, make, dbsession):
    domain = make.domain("EAST")
    make.attribute("DMN", "EAST.lab")
    make.domain("EASTERN")
    assert client.delete(f"{API}/domains/{domain.id}/").status_int == 204
    assert client.get(f"{API}/domains/{domain.id}/").status_int == 404
    dbsession.expire_all()
    assert dmn_values(dbsession) == ["EASTERN"]


def test_domain_admins_write_only(client, make, dbsession):
    alice = client.user("alice", groups=["Reader", "Domain Admin"])
    bob = client.user("bob", groups=["Reader", "Domain Admin"])
    created = client.post(f"{API}/domains/", {"name": "west", "domain_admins": [bob.id, alice.id]})
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json["domain_admins"] == [
        {"id": alice.id, "username": "alice"},
        {"id": bob.id, "username": "bob"},
    ]
    assert "domain_admins" not in client.get(f"{API}/domains/").json["results"][0]
    profile = client.get(f"{API}/user-profiles/{alice.id}/").json
    assert profile["domains"] == [pk]
    # Absent means "unchanged", for PUT as well as PATCH.
    put = client.put(f"{API}/domains/{pk}/", {"name": "west", "comment": "c"})
    assert len(put.json["domain_admins"]) == 2
    patched = client.patch(f"{API}/domains/{pk}/", {"domain_admins": [bob.id]})
    assert patched.json["domain_admins"] == [{"id": bob.id, "username": "bob"}]
    assert client.get(f"{API}/user-profiles/{alice.id}/").json["domains"] == []
    bad = client.patch(f"{API}/domains/{pk}/", {"domain_admins": [999999]})
    assert bad.status_int == 400 and bad.json["errors"][0]["name"] == "domain_admins"


def test_domain_tags_must_be_server_attributes(client, make):
    tag = make.attribute("ROL", "teacher", sort="server")
    feature = make.attribute("HST", "pc1", sort="client")
    ok = client.post(f"{API}/domains/", {"name": "tagged", "tags": [tag.id]})
    assert ok.status_int == 201
    assert [t["value"] for t in ok.json["tags"]] == ["teacher"]
    wrong = client.post(f"{API}/domains/", {"name": "bad-tags", "tags": [feature.id]})
    assert wrong.status_int == 400 and wrong.json["errors"][0]["name"] == "tags"
    assert client.get(f"{API}/domains/?name=BAD-TAGS").json["count"] == 0


def test_domain_validation(client, make):
    make.domain("TAKEN")
    url = f"{API}/domains/"
    assert client.post(url, {}).json["errors"][0]["name"] == "name"
    for body in (
        {"name": ""},
        {"name": "!!!"},
        {"name": "x" * 51},
        {"name": ["x"]},
        {"name": "taken"},
        {"name": " Taken "},
    ):
        response = client.post(url, body)
        assert response.status_int == 400, (body, response.text)
        assert response.json["errors"][0]["name"] == "name"
    for field in ("included_attributes", "excluded_attributes", "tags", "domain_admins"):
        for value in ([999999], "x", ["a"]):
            response = client.post(url, {"name": "fine", field: value})
            assert response.status_int == 400, (field, value)
            assert response.json["errors"][0]["name"] == field
    fine = client.post(url, {"name": "fine", "comment": 5})
    assert fine.status_int == 201 and fine.json["comment"] == "5"
    assert client.patch(f"{url}{fine.json['id']}/", {"name": ""}).status_int == 400
    assert client.patch(f"{url}{fine.json['id']}/", {"comment": None}).json["comment"] is None
    assert client.get(f"{url}999999/").status_int == 404
    assert client.delete(f"{url}999999/").status_int == 404


def test_domain_permissions(client, make, domain_manager):
    domain = make.domain("PERM")
    url = f"{API}/domains/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(f"{url}{domain.id}/", as_="reader").status_int == 200
    assert client.post(url, {"name": "r"}, as_="reader").status_int == 403
    assert client.post(url, {"name": "d"}, as_="domain-admin").status_int == 403
    assert client.patch(f"{url}{domain.id}/", {"comment": "x"}, as_="liberator").status_int == 403
    assert client.delete(f"{url}{domain.id}/", as_="configurator").status_int == 403
    assert client.post(url, {"name": "m"}, as_=domain_manager).status_int == 201
    assert (
        client.patch(f"{url}{domain.id}/", {"comment": "x"}, as_=domain_manager).json["comment"]
        == "x"
    )
    assert client.delete(f"{url}{domain.id}/", as_=domain_manager).status_int == 204


def test_domain_filters_search_ordering_pagination(client, make):
    teacher = make.attribute("ROL", "teacher")
    alpha = make.domain("ALPHA", included=[teacher])
    beta = make.domain("BETA", excluded=[teacher])
    make.domain("GAMMA")
    url = f"{API}/domains/"
    listed = client.get(url).json
    assert set(listed["results"][0]) == {"id", "name", "comment"}
    assert results(client.get(url)) == ["ALPHA", "BETA", "GAMMA"]
    assert results(client.get(url + "?ordering=-name")) == ["GAMMA", "BETA", "ALPHA"]
    assert results(client.get(url + "?name=BETA")) == ["BETA"]
    assert results(client.get(url + "?name__icontains=mm")) == ["GAMMA"]
    assert results(client.get(url + f"?id={alpha.id}")) == ["ALPHA"]
    assert results(client.get(url + f"?id__in={alpha.id},{beta.id}")) == ["ALPHA", "BETA"]
    assert results(client.get(url + f"?included_attributes__id={teacher.id}")) == ["ALPHA"]
    assert results(client.get(url + f"?excluded_attributes__id__in={teacher.id}")) == ["BETA"]
    own = alpha.included_attributes[-1]
    assert results(client.get(url + f"?included_attributes__id={own.id}")) == ["ALPHA"]
    assert results(client.get(url + "?search=et")) == ["BETA"]
    page = client.get(url + "?page_size=2&page=2").json
    assert page["count"] == 3 and [r["name"] for r in page["results"]] == ["GAMMA"]
    assert client.get(url + "?ordering=tags").status_int == 400
    assert client.get(url + "?included_attributes__id=x").status_int == 400
    assert client.post(url + "filter/", {"id__in": [beta.id]}).json["count"] == 1
    exported = client.get(url + "export/")
    assert exported.content_type == "text/csv"
    assert exported.text.splitlines()[0] == "id,name,comment"


def test_domain_list_statement_count(client, make, statements):
    headers = client.headers(client.role("reader"))
    make.domain()
    with statements:
        client.app.get(f"{API}/domains/", headers=headers)
    few = statements.count
    teacher = make.attribute("ROL", "teacher")
    for _ in range(10):
        make.domain(included=[teacher], tags=[teacher])
    with statements:
        response = client.app.get(f"{API}/domains/", headers=headers)
    assert statements.count == few and response.json["count"] == 11


# -- scopes ------------------------------------------------------------------------------------


@pytest.fixture
def alice(client):
    return client.user("alice", groups=["Reader", "Domain Admin"])


@pytest.fixture
def bob(client):
    return client.user("bob", groups=["Reader", "Domain Admin"])


def test_scope_create_for_oneself(client, make, alice):
    teacher = make.attribute("ROL", "teacher")
    # A domain admin works inside a domain they administer, with attributes in its view (here
    # one of the domain's tags).
    domain = make.domain("LAB", tags=[teacher])
    alice.domains.append(domain)
    created = client.post(
        f"{API}/scopes/",
        {"name": "My Computers", "domain": domain.id, "included_attributes": [teacher.id]},
        as_=alice,
    )
    assert created.status_int == 201, created.text
    body = created.json
    assert body["name"] == "my-computers"
    assert body["user"] == {"id": alice.id, "username": "alice"}
    assert body["domain"] == {"id": domain.id, "name": "LAB"}
    assert [a["value"] for a in body["included_attributes"]] == ["teacher"]
    assert set(body["included_attributes"][0]) == ATTRIBUTE_KEYS
    assert body["excluded_attributes"] == []
    listed = client.get(f"{API}/scopes/", as_=alice).json["results"]
    assert listed == [
        {
            "id": body["id"],
            "name": "my-computers",
            "user": {"id": alice.id, "username": "alice"},
            "domain": {"id": domain.id, "name": "LAB"},
        }
    ]
    assert client.get(f"{API}/scopes/{body['id']}/", as_=alice).json == body
    mine = client.post(f"{API}/scopes/", {"name": "x", "user": alice.id}, as_=alice)
    assert mine.status_int == 201 and mine.json["domain"] is None
    url = f"{API}/scopes/{body['id']}/"
    # null clears the domain; a null user means "keep the owner".
    cleared = client.patch(url, {"domain": None, "user": None}, as_=alice)
    assert cleared.status_int == 200, cleared.text
    assert cleared.json["domain"] is None and cleared.json["user"]["id"] == alice.id
    assert len(cleared.json["included_attributes"]) == 1
    put = client.put(url, {"name": "Renamed Scope"}, as_=alice)
    assert put.json["name"] == "renamed-scope" and put.json["included_attributes"] == []


def test_scope_owner_rules(client, alice, bob):
    theirs = client.post(f"{API}/scopes/", {"name": "x", "user": bob.id}, as_=alice)
    assert theirs.status_int == 400 and theirs.json["errors"][0]["name"] == "user"
    by_admin = client.post(f"{API}/scopes/", {"name": "for-bob", "user": bob.id})
    assert by_admin.status_int == 201 and by_admin.json["user"]["username"] == "bob"
    own = client.post(f"{API}/scopes/", {"name": "own"}, as_=alice).json
    moved = client.patch(f"{API}/scopes/{own['id']}/", {"user": bob.id}, as_=alice)
    assert moved.status_int == 400
    assert client.patch(f"{API}/scopes/{own['id']}/", {"user": bob.id}).json["user"]["id"] == bob.id
    assert client.post(f"{API}/scopes/", {"name": "x", "user": 999999}).status_int == 400


def test_scope_ownership_hides_other_users_scopes(client, make, alice, bob):
    scope = make.scope(alice, name="private")
    url = f"{API}/scopes/{scope.id}/"
    assert client.get(url, as_=bob).status_int == 404
    assert client.put(url, {"name": "stolen"}, as_=bob).status_int == 404
    assert client.patch(url, {"name": "stolen"}, as_=bob).status_int == 404
    assert client.delete(url, as_=bob).status_int == 404
    assert client.get(f"{API}/scopes/", as_=bob).json["count"] == 0
    assert client.post(f"{API}/scopes/filter/", {"id": scope.id}, as_=bob).json["count"] == 0
    assert client.get(url, as_=alice).json["name"] == "private"
    assert client.get(url).status_int == 200  # superusers see every scope
    assert client.patch(url, {"name": "renamed"}, as_=alice).json["name"] == "renamed"
    assert client.delete(url, as_=alice).status_int == 204


def test_scope_uniqueness(client, make, alice, bob):
    domain = make.domain("UNIQ")
    alice.domains.append(domain)
    url = f"{API}/scopes/"
    assert client.post(url, {"name": "Lab"}, as_=alice).status_int == 201
    again = client.post(url, {"name": "lab"}, as_=alice)
    assert again.status_int == 400 and again.json["errors"][0]["name"] == "name"
    assert client.post(url, {"name": "lab", "domain": domain.id}, as_=alice).status_int == 201
    assert client.post(url, {"name": "LAB", "domain": domain.id}, as_=alice).status_int == 400
    assert client.post(url, {"name": "lab"}, as_=bob).status_int == 201
    other = client.post(url, {"name": "other"}, as_=alice).json["id"]
    assert client.patch(f"{url}{other}/", {"name": "lab"}, as_=alice).status_int == 400


def test_scope_validation(client, alice):
    url = f"{API}/scopes/"
    assert client.post(url, {}, as_=alice).json["errors"][0]["name"] == "name"
    cases = [
        ("name", {"name": "!!!"}),
        ("name", {"name": "x" * 51}),
        ("domain", {"name": "a", "domain": 999999}),
        ("domain", {"name": "a", "domain": "x"}),
        ("included_attributes", {"name": "a", "included_attributes": [999999]}),
        ("excluded_attributes", {"name": "a", "excluded_attributes": "x"}),
    ]
    for field, body in cases:
        response = client.post(url, body, as_=alice)
        assert response.status_int == 400, (body, response.text)
        assert response.json["errors"][0]["name"] == field
    assert client.get(f"{url}999999/", as_=alice).status_int == 404


def test_scope_permissions(client, make, alice):
    scope = make.scope(client.role("reader"), name="reader-scope")
    url = f"{API}/scopes/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(f"{url}{scope.id}/", as_="reader").status_int == 200
    assert client.post(url, {"name": "x"}, as_="reader").status_int == 403
    assert client.delete(f"{url}{scope.id}/", as_="reader").status_int == 403
    assert client.post(url, {"name": "x"}, as_="liberator").status_int == 403
    assert client.post(url, {"name": "x"}, as_=alice).status_int == 201


def test_scope_filters_search_ordering(client, make, alice, bob):
    domain = make.domain("FLT")
    a1 = make.scope(alice, name="zeta", domain=domain)
    make.scope(alice, name="alpha")
    make.scope(bob, name="beta")
    url = f"{API}/scopes/"
    assert results(client.get(url)) == ["alpha", "beta", "zeta"]
    assert results(client.get(url + "?ordering=-name")) == ["zeta", "beta", "alpha"]
    assert results(client.get(url + f"?user={bob.id}")) == ["beta"]
    assert results(client.get(url + f"?user__id={alice.id}")) == ["alpha", "zeta"]
    assert results(client.get(url + "?user__username=bob")) == ["beta"]
    assert results(client.get(url + "?user__username__icontains=LIC")) == ["alpha", "zeta"]
    assert results(client.get(url + f"?domain__id={domain.id}")) == ["zeta"]
    assert results(client.get(url + f"?id={a1.id}")) == ["zeta"]
    assert results(client.get(url + "?name__icontains=ET")) == ["beta", "zeta"]
    assert results(client.get(url + "?name=alpha")) == ["alpha"]
    assert results(client.get(url + "?search=alp")) == ["alpha"]
    assert results(client.get(url + "?ordering=user,-name")) == ["zeta", "alpha", "beta"]
    assert results(client.get(url + "?search=a", as_=bob)) == ["beta"]
    page = client.get(url + "?page_size=2&page=2").json
    assert page["count"] == 3 and [r["name"] for r in page["results"]] == ["zeta"]
    assert client.get(url + "?user=x").status_int == 400
    assert client.get(url + "?ordering=bogus").status_int == 400


def test_scope_list_statement_count(client, make, statements, alice):
    headers = client.headers(alice)
    make.scope(alice)
    with statements:
        client.app.get(f"{API}/scopes/", headers=headers)
    few = statements.count
    domain = make.domain()
    teacher = make.attribute("ROL", "teacher")
    for _ in range(10):
        make.scope(alice, domain=domain, included=[teacher])
    with statements:
        response = client.app.get(f"{API}/scopes/", headers=headers)
    assert statements.count == few and response.json["count"] == 11


def test_deleting_a_domain_keeps_scopes(client, make, alice, dbsession):
    domain = make.domain("GONE")
    scope = make.scope(alice, name="kept", domain=domain)
    assert client.delete(f"{API}/domains/{domain.id}/").status_int == 204
    dbsession.expire_all()
    assert dbsession.get(Scope, scope.id).domain_id is None
    assert dbsession.get(Domain, domain.id) is None
