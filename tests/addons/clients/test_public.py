"""Public client endpoints (protocol-v5 3.3-3.5, 6.1), spoken to by the v5 agent."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from migasfree_pyramid.crypto.keystore import SERVER, KeyStore
from migasfree_pyramid.models import Notification, Permission, Platform, Project
from tests.agents import secure

from .conftest import FAKE_REPOSITORY_KEY, REPOSITORY_KEY_FILE

FORBIDDEN = "You do not have permission to perform this action."


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def counts(session) -> tuple[int, int, int]:
    return count(session, Platform), count(session, Project), count(session, Notification)


def forbidden(value) -> bool:
    return value == {"error": {"info": FORBIDDEN, "code": 403}}


def user_with(client, dbsession, username, codename):
    app, code = codename.split(".")
    permission = dbsession.scalars(
        select(Permission).where(
            Permission.content_type.startswith(f"{app}."), Permission.codename == code
        )
    ).one()
    return client.user(username, user_permissions=[permission])


# -- server/info/, pms/, languages/ --------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_server_info(agent, method):
    pc = agent()
    info = pc.server_info(method)
    assert pc.last.status == 200
    assert set(info) == {"version", "author", "contact", "homepage", "organization"}
    assert info["version"] == "5.0"  # the client prints it; 5.0 unless told to report ours
    assert isinstance(info["author"], list) and all(isinstance(a, str) for a in info["author"])
    assert all(isinstance(info[k], str) for k in ("contact", "homepage", "organization"))


def test_server_info_reports_the_configured_organization(agent, registry, monkeypatch):
    monkeypatch.setitem(registry.settings, "clients.organization", "ACME")
    monkeypatch.setitem(registry.settings, "clients.contact", "ops@acme.test")
    info = agent().server_info()
    assert (info["organization"], info["contact"]) == ("ACME", "ops@acme.test")


def test_pms_list(testapp):
    res = testapp.get("/api/v1/public/pms/", status=200)
    assert {"apt", "dnf", "pacman", "wpt", "yum", "zypper"} <= set(res.json)
    for name, description in res.json.items():
        assert set(description) == {"module", "mimetype", "extensions", "architectures"}, name
        assert isinstance(description["module"], str)
        for key in ("mimetype", "extensions", "architectures"):
            assert isinstance(description[key], list) and description[key], (name, key)
    assert "deb" in res.json["apt"]["extensions"]
    assert "amd64" in res.json["apt"]["architectures"]


def test_languages(testapp):
    res = testapp.get("/api/v1/public/languages/", status=200)
    assert res.json == {
        "0": "bash",
        "1": "python",
        "2": "perl",
        "3": "php",
        "4": "ruby",
        "5": "cmd",
        "6": "powershell",
    }


# -- keys/project/ (3.3) ---------------------------------------------------------------------


def test_unknown_project_registers_itself(agent, dbsession, registry, make):
    before = counts(dbsession)
    pc = agent(project="Ubuntu-lts", platform=f"Plat-{make.n()}")
    value = pc.register()
    assert pc.last.status == 200
    assert set(value) == {"migasfree-server.pub", "migasfree-client.pri"}
    assert value["migasfree-server.pub"].startswith("-----BEGIN PUBLIC KEY-----")
    assert value["migasfree-client.pri"].startswith("-----BEGIN PRIVATE KEY-----")
    assert pc.has_keys and set(pc.keys) == {"server.pub", "Ubuntu-lts.pri"}

    project = dbsession.scalars(select(Project).where(Project.name == "Ubuntu-lts")).one()
    assert (project.slug, project.pms, project.architecture) == ("ubuntu-lts", "apt", "amd64")
    assert project.platform.name == pc.platform
    assert project.auto_register_computers is True  # = migasfree.autoregister
    assert counts(dbsession) == (before[0] + 1, before[1] + 1, before[2] + 2)
    messages = set(dbsession.scalars(select(Notification.message)).all())
    assert f"Platform [{pc.platform}] registered by IP [{pc.ip_address}]." in messages
    assert f"Project [Ubuntu-lts] with PMS [apt] registered by IP [{pc.ip_address}]." in messages

    keys = KeyStore(registry.settings["migasfree.keys_dir"])
    assert value["migasfree-client.pri"] == keys.pem(project.slug, private=True)
    assert pc.key("server.pub").thumbprint() == keys.public(SERVER).thumbprint()
    # The pair the agent holds is the project's: the server can verify what it signs.
    assert pc.key("Ubuntu-lts.pri").thumbprint() == keys.public(project.slug).thumbprint()


def test_known_platform_is_reused(agent, dbsession, make):
    platform = make.platform()
    before = counts(dbsession)
    pc = agent(platform=platform.name)
    pc.register()
    assert pc.last.status == 200
    assert counts(dbsession) == (before[0], before[1] + 1, before[2] + 1)


def test_existing_project_gets_its_keys(agent, dbsession, make):
    project = make.project(pms="dnf", architecture="x86_64")
    before = counts(dbsession)
    pc = agent(project, pms="dnf", architecture="x86_64")
    value = pc.register()
    assert pc.last.status == 200 and pc.has_keys, value
    assert counts(dbsession) == before
    # Asking again gives the same pair (keys are made once).
    assert agent(project).register() == value


@pytest.mark.parametrize("pms", ["None", "rpm", ""])
def test_unknown_pms_is_refused(agent, dbsession, pms):
    before = counts(dbsession)
    pc = agent(pms=pms)
    value = pc.register()
    assert pc.last.status == 400
    assert value["error"]["code"] == 400 and "PMS must be one of" in value["error"]["info"]
    assert not pc.has_keys
    assert counts(dbsession) == before


def test_autoregister_off_refuses_unknown_projects(agent, client, dbsession, registry, monkeypatch):
    monkeypatch.setitem(registry.settings, "migasfree.autoregister", False)
    before = counts(dbsession)
    pc = agent()
    assert forbidden(pc.register())
    client.user("nosuper", password="pw-1")
    assert forbidden(pc.register("nosuper", "pw-1"))
    client.user("root", superuser=True, password="pw-2")
    assert forbidden(pc.register("root", "wrong-password"))
    assert counts(dbsession) == before and not pc.has_keys

    value = pc.register("root", "pw-2")
    assert pc.last.status == 200 and pc.has_keys, value
    project = dbsession.scalars(select(Project).where(Project.name == pc.project)).one()
    assert project.auto_register_computers is False


def test_closed_project_needs_a_user_who_may_add_computers(
    agent, client, dbsession, make, registry, monkeypatch
):
    monkeypatch.setitem(registry.settings, "migasfree.autoregister", False)
    closed = make.project(auto_register_computers=False)
    pc = agent(closed)
    assert forbidden(pc.register())
    client.role("reader")
    assert forbidden(pc.register("reader", "secret-pass"))
    user_with(client, dbsession, "computer-adder", "client.add_computer")
    assert pc.register("computer-adder", "secret-pass")["migasfree-client.pri"]
    client.user("super", superuser=True, password="pw-3")
    assert agent(closed).register("super", "pw-3")["migasfree-client.pri"]


def test_open_project_or_autoregister_needs_no_user(agent, make, registry, monkeypatch):
    closed = make.project(auto_register_computers=False)
    assert agent(closed).register()["migasfree-client.pri"]  # autoregister on (default)
    monkeypatch.setitem(registry.settings, "migasfree.autoregister", False)
    opened = make.project(auto_register_computers=True)
    assert agent(opened).register()["migasfree-client.pri"]


def test_registration_keys_sign_a_safe_call(agent, make):
    """The PEMs handed out are usable as the client uses them: sign + encrypt a safe call."""
    project = make.project(auto_register_computers=True)
    pc = agent(project, register=True)
    cid = pc.get_computer_id()
    assert isinstance(cid, int) and cid > 0
    assert pc.envelope_errors == []


# -- keys/packager/ (3.4) ------------------------------------------------------------------


def test_packager_keys_need_a_packager(agent, client):
    pc = agent()
    assert forbidden(pc.packager_register("", ""))
    client.role("reader")
    assert forbidden(pc.packager_register("reader", "secret-pass"))
    client.role("packager")
    assert forbidden(pc.packager_register("packager", "wrong"))
    assert "packager.pri" not in pc.keys

    value = pc.packager_register("packager", "secret-pass")
    assert pc.last.status == 200
    assert set(value) == {"migasfree-server.pub", "migasfree-packager.pri"}
    assert value["migasfree-packager.pri"].startswith("-----BEGIN PRIVATE KEY-----")
    assert set(pc.keys) == {"server.pub", "packager.pri"}


def test_superuser_gets_packager_keys(agent, client, registry):
    client.user("root-packager", superuser=True, password="pw-4")
    pc = agent()
    value = pc.packager_register("root-packager", "pw-4")
    keys = KeyStore(registry.settings["migasfree.keys_dir"])
    assert secure.load_pem(value["migasfree-packager.pri"]).thumbprint() == (
        keys.public("migasfree-packager").thumbprint()
    )


# -- keys/repositories/ (3.5) --------------------------------------------------------------


def test_repository_key_until_and_after_it_exists(agent, testapp, tmp_path, registry, monkeypatch):
    keys_dir = tmp_path / "fresh-keys"
    keys_dir.mkdir()
    monkeypatch.setitem(registry.settings, "migasfree.keys_dir", str(keys_dir))
    pc = agent()
    for method in ("POST", "GET"):
        value = pc.repository_key(method)
        assert pc.last.status == 503, method
        assert value["error"]["code"] == 503 and value["error"]["info"]
        res = testapp.request(
            "/api/v1/public/keys/repositories/", method=method, expect_errors=True
        )
        assert res.content_type == "application/json" and set(res.json) == {"detail"}

    (keys_dir / REPOSITORY_KEY_FILE).write_text(FAKE_REPOSITORY_KEY)
    # POST: a JSON string, what the real client writes to a file and imports.
    assert pc.repository_key() == FAKE_REPOSITORY_KEY
    res = testapp.post("/api/v1/public/keys/repositories/", status=200)
    assert res.json == FAKE_REPOSITORY_KEY
    # GET: the newer original's shape, for other tools.
    res = testapp.get("/api/v1/public/keys/repositories/", status=200)
    assert res.json == {"public_key": FAKE_REPOSITORY_KEY}


def test_repository_key_fixture(agent, repository_key, registry):
    path = os.path.join(registry.settings["migasfree.keys_dir"], REPOSITORY_KEY_FILE)
    assert os.path.exists(path)
    assert agent().repository_key() == repository_key
