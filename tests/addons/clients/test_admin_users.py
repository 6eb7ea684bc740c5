"""Desktop users (``users/``) through the admin API."""

from __future__ import annotations

from migasfree_addons.clients.models import Synchronization
from migasfree_pyramid.models import Computer

API = "/api/v1/token"


def ids(response) -> list[int]:
    assert response.status_int == 200, response.text
    return [row["id"] for row in response.json["results"]]


def test_list_detail_filters(client, make):
    bob = make.client_user("bob", "Bob Marley")
    amy = make.client_user("amy", "")
    listed = client.get(f"{API}/users/", as_="reader")
    assert listed.json["results"] == [
        {"id": amy.id, "name": "amy", "fullname": "", "__str__": "amy"},
        {"id": bob.id, "name": "bob", "fullname": "Bob Marley", "__str__": "bob (Bob Marley)"},
    ]
    assert client.get(f"{API}/users/{bob.id}/").json["__str__"] == "bob (Bob Marley)"
    url = f"{API}/users/?"
    assert ids(client.get(url + "name=bob")) == [bob.id]
    assert ids(client.get(url + "name__icontains=M")) == [amy.id]
    assert ids(client.get(url + "fullname__icontains=marley")) == [bob.id]
    assert ids(client.get(url + "fullname=")) == [amy.id]
    assert ids(client.get(url + f"id__in={bob.id}")) == [bob.id]
    assert ids(client.get(url + "search=marl")) == [bob.id]
    assert ids(client.get(url + "ordering=-name")) == [bob.id, amy.id]
    assert client.get(url + "ordering=password").status_int == 400
    assert client.get(f"{API}/users/999999/").status_int == 404


def test_destroy_keeps_computers_and_syncs(client, make, dbsession):
    user = make.client_user("carol")
    computer = make.computer(sync_user=user)
    sync = Synchronization(computer_id=computer.id, user_id=user.id)
    dbsession.add(sync)
    dbsession.flush()
    url = f"{API}/users/{user.id}/"
    assert client.post(f"{API}/users/", {"name": "x"}).status_int == 405
    assert client.patch(url, {"name": "x"}).status_int == 405
    assert client.delete(url, as_="reader").status_int == 403
    assert client.delete(url).status_int == 204
    dbsession.expire_all()
    assert dbsession.get(Computer, computer.id).sync_user_id is None
    assert dbsession.get(Synchronization, sync.id).user_id is None


def test_permissions_and_statement_count(client, make, dbsession, statements):
    assert client.get(f"{API}/users/", as_="anonymous").status_int == 401
    assert client.get(f"{API}/users/", as_="nobody").status_int == 403
    headers = client.headers(client.role("reader"))
    for _ in range(2):
        make.client_user()
    with statements:
        client.app.get(f"{API}/users/", headers=headers)
    few = statements.count
    for _ in range(20):
        make.client_user()
    with statements:
        assert client.app.get(f"{API}/users/", headers=headers).json["count"] == 22
    assert statements.count == few
