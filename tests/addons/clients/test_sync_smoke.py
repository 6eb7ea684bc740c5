"""A first end-to-end sync with the server's own envelope code (the agent tests go further)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from migasfree_addons.clients.models import PackageHistory, Synchronization
from migasfree_pyramid.crypto.envelope import unwrap, wrap
from migasfree_pyramid.crypto.keystore import KeyStore
from migasfree_pyramid.models import Computer


@pytest.fixture
def project(make):
    return make.project(name="debian-12", auto_register_computers=True)


def call(testapp, registry, project, path, claims, status="*"):
    keys = KeyStore(registry.settings["migasfree.keys_dir"])
    msg = wrap(claims, keys.private(project.slug), keys.public("migasfree-server"))
    res = testapp.post_json(
        f"/api/v1/safe/{path}", {"msg": msg, "project": project.name}, status=status
    )
    if "msg" in (res.json or {}):
        return res.status_int, unwrap(
            res.json["msg"], keys.private(project.slug), keys.public("migasfree-server")
        )
    return res.status_int, res.json


def test_first_sync(testapp, registry, project, dbsession, make):
    ident = {"uuid": "4C4C4544-0000-1111-2222-333344445555", "name": "PC1"}
    status, data = call(testapp, registry, project, "computers/id/", ident)
    assert (status, data) == (404, "Computer not found")
    status, data = call(
        testapp,
        registry,
        project,
        "computers/",
        {**ident, "ip_address": "127.16.1.10", "username": "", "password": ""},
    )
    assert status == 201, data
    cid = data["id"]
    assert call(testapp, registry, project, "computers/id/", ident) == (200, cid)
    status, props = call(testapp, registry, project, "computers/properties/", {"id": cid})
    assert status == 200 and {p["prefix"] for p in props} >= {"HST", "NET", "PCI"}
    status, data = call(
        testapp,
        registry,
        project,
        "computers/attributes/",
        {
            "id": cid,
            **ident,
            "fqdn": "pc1.example.test",
            "ip_address": "127.16.1.10",
            "sync_user": "alice",
            "sync_fullname": "Alice",
            "sync_attributes": {
                "HST": "pc1\n",
                "NET": "127.16.1.0/24\n",
                "PCI": "8086:1237~Host bridge,8086:7000\n",
            },
        },
    )
    assert status == 201, data
    status, traits = call(testapp, registry, project, "computers/traits/", {"id": cid})
    names = {f"{t['prefix']}-{t['value']}" for t in traits}
    assert {
        "HST-pc1",
        "NET-127.16.1.0/24",
        "PCI-8086:1237",
        "PCI-8086:7000",
        f"CID-{cid}",
        "PRJ-debian-12",
        "USR-alice",
        "IP-127.16.1.10",
        "SET-All Systems",
    } <= names
    assert call(testapp, registry, project, "computers/faults/definitions/", {"id": cid})[0] == 200
    make.deployment(
        project=project, included=[make.all_systems()], name="base", packages_to_install="vim\ncurl"
    )
    status, repos = call(testapp, registry, project, "computers/repositories/", {"id": cid})
    line = "deb {protocol}://{server}/pub/debian-12/repos base PKGS\n"
    assert repos == [{"name": "base", "source_template": line}]
    status, pkgs = call(testapp, registry, project, "computers/packages/mandatory/", {"id": cid})
    assert pkgs == {"install": ["vim", "curl"], "remove": []}
    inventory = [f"pkg{i}_1.0_amd64.deb" for i in range(50)]
    assert call(
        testapp,
        registry,
        project,
        "computers/software/",
        {"id": cid, "inventory": inventory, "history": {}},
    ) == (200, "Data received")
    open_rows = dbsession.scalars(
        select(PackageHistory).where(
            PackageHistory.computer_id == cid, PackageHistory.uninstall_date.is_(None)
        )
    ).all()
    assert len(open_rows) == 50
    assert call(testapp, registry, project, "computers/devices/", {"id": cid}) == (200, {})
    status, data = call(
        testapp,
        registry,
        project,
        "synchronizations/",
        {
            "id": cid,
            "start_date": "2026-11-26T10:00:00.123456",
            "consumer": "migasfree 5.0",
            "pms_status_ok": True,
        },
    )
    assert status == 201, data
    assert call(testapp, registry, project, "eot/", {"id": cid}) == (200, "EOT OK")
    computer = dbsession.get(Computer, cid)
    assert computer.sync_end_date is not None
    syncs = select(Synchronization).where(Synchronization.computer_id == cid)
    assert dbsession.scalars(syncs).one()


def test_hardware_required_without_the_hardware_addon(testapp, registry, project, make):
    """A real client exits on any error of ``hardware/required/``: with the clients addon alone
    it answers that no capture is wanted (and the upload path does not exist)."""
    import webtest

    from migasfree_pyramid import make_config
    from migasfree_pyramid.db import ENGINE_KEY

    settings = {**registry.settings, "migasfree.addons": "clients"}
    settings[ENGINE_KEY] = registry[ENGINE_KEY]
    clients_only = make_config(settings)
    assert "hardware" not in clients_only.registry["migasfree.enabled_addons"]
    app = webtest.TestApp(clients_only.make_wsgi_app(), extra_environ=testapp.extra_environ)
    computer = make.computer(project=project)
    status, data = call(app, registry, project, "computers/hardware/required/", {"id": computer.id})
    assert (status, data) == (200, {"capture": False})
    status, _ = call(app, registry, project, "computers/hardware/", {"id": computer.id}, "*")
    assert status == 404
