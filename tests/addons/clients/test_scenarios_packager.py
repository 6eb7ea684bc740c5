"""``migasfree upload`` against the app (protocol-v5 3.4, 6.4): packager keys, files into
stores, package sets, repository rebuild requests, and the rows and files they leave."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import select

from migasfree_pyramid.core_api.packages import PackagesChanged
from migasfree_pyramid.crypto.keystore import PACKAGER, SERVER, KeyStore
from migasfree_pyramid.models import Package, PackageSet, Store
from tests.agents import INVALID_DATA, INVALID_SIGNATURE, UploadFile, secure

PROJECT = "scn-alpha"  # a fixed name: the project key pair is made once per run
NO_PROJECT = {"error": {"info": "No Project matches the given query.", "code": 404}}


@pytest.fixture
def project(make):
    return make.project(name=PROJECT)


@pytest.fixture
def packager(agent, client, project):
    """An agent holding the packager keys of a user of the Packager group."""
    client.role("packager")
    made = agent(project)
    value = made.packager_register("packager", "secret-pass")
    assert made.last.status == 200, value
    assert set(made.keys) == {"server.pub", "packager.pri"}
    return made


@pytest.fixture
def events(registry):
    """``PackagesChanged`` events notified during the test (as ``(package ids, set ids)``)."""
    seen: list[PackagesChanged] = []

    def handler(event):
        seen.append(event)

    registry.registerHandler(handler, (PackagesChanged,))
    try:
        yield seen
    finally:
        registry.unregisterHandler(handler, (PackagesChanged,))


def store_file(registry, store: str, name: str) -> str:
    return os.path.join(registry.settings["migasfree.public_dir"], PROJECT, "stores", store, name)


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def package(session, fullname: str) -> Package | None:
    session.expire_all()
    return session.scalars(select(Package).filter_by(fullname=fullname)).first()


def test_upload_package_and_replace_it(packager, project, dbsession, registry, events, make):
    name = "hello_1.0-1_amd64.deb"
    assert packager.upload_package("Main Store", name, b"first build") == "Data received"
    path = store_file(registry, "main-store", name)
    assert read(path) == b"first build"
    row = package(dbsession, name)
    assert (row.name, row.version, row.architecture, row.project_id) == (
        "hello",
        "1.0-1",
        "amd64",
        project.id,
    )
    store = dbsession.scalars(select(Store).filter_by(project_id=project.id)).one()
    assert (store.name, store.slug, row.store_id) == ("Main Store", "main-store", store.id)
    assert [(e.project_id, e.package_ids) for e in events] == [(project.id, (row.id,))]

    # The same file name again replaces the file: how a packager publishes a rebuild; the
    # deployment publishing it is named in the event (its repository is to be rebuilt).
    deployment = make.deployment("web", project, available_packages=[row])
    assert packager.upload_package("Main Store", name, b"second build") == "Data received"
    assert read(path) == b"second build"
    assert package(dbsession, name).id == row.id
    assert len(dbsession.scalars(select(Package).filter_by(project_id=project.id)).all()) == 1
    assert os.listdir(os.path.dirname(path)) == [name]
    assert (events[1].package_ids, events[1].deployment_ids) == ((row.id,), (deployment.id,))
    assert len(events) == 2 and packager.envelope_errors == []


def test_a_file_that_is_not_a_package(packager, dbsession, registry, events):
    value = packager.upload_package("docs", "README.txt", b"read me", is_package=False)
    assert value == "Data received"
    assert read(store_file(registry, "docs", "README.txt")) == b"read me"
    assert package(dbsession, "README.txt") is None
    assert events == []


def test_upload_a_set_and_create_its_repository(
    packager, project, dbsession, registry, events, make
):
    files = [("", "tool-a_1.0_all.deb", b"A"), ("sub", "tool-b_2.0-1_amd64.deb", b"B")]
    for path, name, data in files:
        assert packager.upload_set("main", "/home/me/build/tools", path, name, data) == (
            "Data received"
        )
        # The client sends the absolute path; only its basename names the stored file.
        assert packager.last.sent["path"] == path
        assert read(store_file(registry, "main", name)) == data
    dbsession.expire_all()
    package_set = dbsession.scalars(select(PackageSet).filter_by(project_id=project.id)).one()
    ids = sorted(p.id for p in package_set.packages)
    assert package_set.name == "tools" and package_set.store.slug == "main"
    assert sorted(p.fullname for p in package_set.packages) == [n for _, n, _ in files]
    assert [e.package_ids for e in events] == [(ids[0],), (ids[1],)]

    # ``upload -r DIR``: the set (the original only looked for a package so named, 10.6),
    # with the deployments that publish it.
    deployment = make.deployment("tools", project, available_package_sets=[package_set])
    events.clear()
    assert packager.create_repository("/home/me/build/tools") == "Data received"
    assert [(e.project_id, sorted(e.package_ids), e.deployment_ids) for e in events] == [
        (project.id, ids, (deployment.id,))
    ]
    # ``upload -f FILE``: the package whose file name it is.
    events.clear()
    assert packager.create_repository("build/tools/sub/tool-b_2.0-1_amd64.deb") == "Data received"
    assert [e.package_ids for e in events] == [(package(dbsession, files[1][1]).id,)]
    events.clear()
    value = packager.create_repository("no-such-set")
    assert value == {"error": {"info": "No Package matches the given query.", "code": 404}}
    assert events == []


def test_unknown_project(packager, dbsession, registry, events):
    value = packager.upload_package("main", "x_1.0_all.deb", b"x", project="scn-nowhere")
    assert value == NO_PROJECT
    assert packager.create_repository("x", project="scn-nowhere") == NO_PROJECT
    assert package(dbsession, "x_1.0_all.deb") is None and events == []
    assert not os.path.exists(
        os.path.join(registry.settings["migasfree.public_dir"], "scn-nowhere")
    )


def test_a_computer_key_cannot_upload(agent, project, dbsession, registry, events):
    """Packager paths verify with the packager key whatever the envelope's project (protocol-v5
    2.2), so a request signed with a project key does not verify: 400 ``Invalid Signature``,
    encrypted to the packager key (the computer cannot read it), and nothing is written."""
    pc = agent(project, register=True)
    claims = {"project": PROJECT, "store": "main", "is_package": True}
    fields = pc.envelope(claims)  # signed with the project key, not the packager key
    upload = UploadFile("file", "/tmp/evil_1.0_all.deb", b"evil", "application/octet-stream")
    reply = pc.transport.post_multipart("/api/v1/safe/packages/", fields, [upload], pc.headers)
    assert reply.status == 400
    message = json.loads(reply.body)["msg"]
    assert pc.evaluate("packages/", reply, True, (pc.key(f"{PROJECT}.pri"), pc.key("server.pub")))[
        "error"
    ] == {
        "info": INVALID_DATA,
        "code": 400,
    }
    keys = KeyStore(registry.settings["migasfree.keys_dir"])
    opened = secure.open_message(message, keys.private(PACKAGER), keys.public(SERVER))
    assert opened == (INVALID_SIGNATURE, None)
    assert package(dbsession, "evil_1.0_all.deb") is None and events == []
    assert not os.path.exists(store_file(registry, "main", "evil_1.0_all.deb"))
