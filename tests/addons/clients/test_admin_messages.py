"""Live sync messages: written by the safe steps of a sync (Redis), read by admins."""

from __future__ import annotations

import datetime as dt

import pytest

from migasfree_addons.clients import messages as live
from migasfree_pyramid.crypto.envelope import unwrap, wrap
from migasfree_pyramid.crypto.keystore import KeyStore

API = "/api/v1/token"


@pytest.fixture
def redis_conn(registry):
    conn = live.client(registry)
    key, watch = live.keys(registry)
    yield conn
    for computer_id in conn.smembers(watch):
        conn.delete(key.format(int(computer_id)))
    conn.delete(watch)


def test_a_sync_step_records_and_eot_clears(testapp, registry, make, redis_conn, client):
    project = make.project(name="msg-project")
    computer = make.computer(project=project)
    keys = KeyStore(registry.settings["migasfree.keys_dir"])

    def call(path):
        msg = wrap({"id": computer.id}, keys.private(project.slug), keys.public("migasfree-server"))
        res = testapp.post_json(f"/api/v1/safe/{path}", {"msg": msg, "project": project.name})
        return unwrap(res.json["msg"], keys.private(project.slug), keys.public("migasfree-server"))

    call("computers/properties/")
    listed = client.get(f"{API}/messages/").json
    assert listed["count"] == 1
    row = listed["results"][0]
    assert row["id"] == computer.id and row["message"] == "Getting properties..."
    assert row["computer"]["__str__"] == f"CID-{computer.id}"
    assert row["project"] == {"id": project.id, "name": "msg-project"}
    synchronizing = client.get(f"{API}/computers/synchronizing/").json
    assert [c["id"] for c in synchronizing] == [computer.id]
    assert client.get(f"{API}/computers/delayed/").json == []
    assert call("eot/") == "EOT OK"
    assert client.get(f"{API}/messages/").json["count"] == 0


def test_filters_delete_export_and_scoping(client, make, registry, redis_conn, dbsession):
    north_ctr = make.attribute("CTR", "msg-north")
    north = make.domain("MSGNORTH", included=[north_ctr])
    inside = make.computer(sync_attributes=[north_ctr])
    outside = make.computer(status="reserved")
    for computer, text in ((inside, "Sending software..."), (outside, "Getting traits...")):
        live.record(redis_conn, registry, computer, text)
    key = live.keys(registry)[0]
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime(live.DATE_FORMAT)
    redis_conn.hset(key.format(outside.id), "date", old)

    assert client.get(f"{API}/messages/").json["count"] == 2
    assert client.get(f"{API}/messages/?search=SOFTWARE").json["results"][0]["id"] == inside.id
    only = client.get(f"{API}/messages/?project__id={outside.project_id}").json["results"]
    assert [r["id"] for r in only] == [outside.id]
    assert client.get(f"{API}/messages/?computer__status__in=reserved").json["count"] == 1
    assert client.get(f"{API}/messages/?project__id=x").status_int == 400
    assert [c["id"] for c in client.get(f"{API}/computers/delayed/").json] == [outside.id]
    csv_rows = client.get(f"{API}/messages/export/").text.splitlines()
    assert csv_rows[0].startswith("created_at,computer__id") and len(csv_rows) == 3

    admin = client.user("msg-admin", groups=["Reader", "Domain Admin"])
    admin.domains = [north]
    dbsession.flush()
    seen = client.get(f"{API}/messages/", as_=admin).json["results"]
    assert [r["id"] for r in seen] == [inside.id]
    assert client.delete(f"{API}/messages/{outside.id}/", as_=admin).status_int == 404
    assert client.delete(f"{API}/messages/{inside.id}/", as_="reader").status_int == 204
    assert client.delete(f"{API}/messages/{inside.id}/", as_="reader").status_int == 404
    assert client.get(f"{API}/messages/", as_="anonymous").status_int == 401
