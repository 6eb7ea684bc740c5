"""Notifications through the admin API."""

from __future__ import annotations

import datetime as dt

from migasfree_pyramid.models import Notification

API = "/api/v1/token"


def ids(response) -> list[int]:
    assert response.status_int == 200, response.text
    return [row["id"] for row in response.json["results"]]


def test_crud(client):
    created = client.post(f"{API}/notifications/", {"message": "line 1\r\nline 2"}, as_="liberator")
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "created_at": created.json["created_at"],
        "message": "line 1\nline 2",
        "checked": False,
    }
    url = f"{API}/notifications/{pk}/"
    assert client.get(url, as_="reader").json == created.json
    # Liberator may only add; Configurator holds all four permissions.
    assert client.patch(url, {"checked": True}, as_="liberator").status_int == 403
    checked = client.patch(url, {"checked": True, "message": "ignored"}, as_="configurator")
    assert checked.json["checked"] is True and checked.json["message"] == "line 1\nline 2"
    assert client.put(url, {"checked": False}, as_="configurator").json["checked"] is False
    assert client.patch(url, {"checked": "nah"}).status_int == 400
    assert client.delete(url, as_="liberator").status_int == 403
    assert client.delete(url, as_="configurator").status_int == 204
    assert client.get(url).status_int == 404


def test_validation_and_permissions(client):
    url = f"{API}/notifications/"
    missing = client.post(url, {})
    assert missing.status_int == 400 and missing.json["errors"][0]["name"] == "message"
    assert client.post(url, {"message": ""}).status_int == 400
    assert client.post(url, {"message": "x"}, as_="reader").status_int == 403
    assert client.post(url, {"message": "x"}, as_="checker").status_int == 403
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403


def test_filters_search_ordering(client, dbsession):
    old = Notification(
        message="Platform [x] registered", created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    new = Notification(message="Repository created", checked=True)
    dbsession.add_all([old, new])
    dbsession.flush()
    url = f"{API}/notifications/?"
    assert ids(client.get(url)) == [new.id, old.id]
    assert ids(client.get(url + "ordering=created_at")) == [old.id, new.id]
    assert ids(client.get(url + "checked=false")) == [old.id]
    assert ids(client.get(url + "message__icontains=PLATFORM")) == [old.id]
    assert ids(client.get(url + "message=Repository created")) == [new.id]
    assert ids(client.get(url + "created_at__lt=2024-06-01")) == [old.id]
    assert ids(client.get(url + "created_at__gte=2024-06-01")) == [new.id]
    assert ids(client.get(url + f"id__in={old.id}")) == [old.id]
    assert ids(client.get(url + "search=repository")) == [new.id]
    assert client.get(url + "ordering=bad").status_int == 400
    assert client.get(url + "page_size=1&page=2").json["results"][0]["id"] == old.id


def test_list_statement_count_does_not_grow(client, dbsession, statements):
    headers = client.headers(client.role("reader"))
    dbsession.add_all([Notification(message=f"m{i}") for i in range(2)])
    dbsession.flush()
    with statements:
        client.app.get(f"{API}/notifications/", headers=headers)
    few = statements.count
    dbsession.add_all([Notification(message=f"n{i}") for i in range(20)])
    dbsession.flush()
    with statements:
        assert client.app.get(f"{API}/notifications/", headers=headers).json["count"] == 22
    assert statements.count == few
