"""Start-up: bad configuration stops it with a message naming the culprit, addons are included
by name (and leave no trace when left out), and ``migasfree-initdb`` / ``migasfree-user`` take a
fresh SQLite site to a working login, as a new user's first run does.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import sys
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest
import webtest
from pyramid.exceptions import ConfigurationError
from pyramid.paster import get_app
from pyramid.security import NO_PERMISSION_REQUIRED

from migasfree_pyramid import make_config
from migasfree_pyramid.addons import ADDONS_KEY, available_addons, include_addons
from migasfree_pyramid.db import ENGINE_KEY
from migasfree_pyramid.scripts import initialize_db, users
from migasfree_pyramid.security import PERMISSIONS_KEY, POLICY_KEY
from migasfree_pyramid.security.permissions import model_permissions
from migasfree_pyramid.settings import Setting, as_int, as_str, read_settings

SECRET = "startup-test-secret-startup-test-secret-0123"


@pytest.fixture
def base(settings) -> dict:
    """testing.ini's settings on an in-memory database: these tests only build configurations.
    The task queue stays ``immediate`` (the huey object is process-wide)."""
    return {**settings, "sqlalchemy.url": "sqlite://", "here": os.getcwd()}


class TestCoreSettings:
    def test_missing_database_url_names_the_key(self, base):
        del base["sqlalchemy.url"]
        with pytest.raises(ConfigurationError, match=r"'sqlalchemy\.url' is required"):
            make_config(base)

    def test_short_jwt_secret_names_the_key(self, base):
        base["migasfree.jwt_secret"] = "too-short"
        with pytest.raises(ConfigurationError) as caught:
            make_config(base)
        assert "'migasfree.jwt_secret'" in str(caught.value)
        assert "32 bytes" in str(caught.value)

    def test_values_come_from_the_environment(self, base, monkeypatch):
        monkeypatch.setenv("MIGASFREE_STARTUP_DB", "sqlite://")
        monkeypatch.setenv("MIGASFREE_STARTUP_SECRET", SECRET)
        monkeypatch.delenv("MIGASFREE_STARTUP_PAGE", raising=False)
        base["sqlalchemy.url"] = "${MIGASFREE_STARTUP_DB}"
        base["migasfree.jwt_secret"] = "${MIGASFREE_STARTUP_SECRET}"
        base["migasfree.page_size"] = "${MIGASFREE_STARTUP_PAGE:-25}"
        settings = make_config(base).registry.settings
        assert settings["sqlalchemy.url"] == "sqlite://"
        assert settings["migasfree.jwt_secret"] == SECRET
        assert settings["migasfree.page_size"] == 25

    def test_missing_environment_variable_names_key_and_variable(self, base, monkeypatch):
        monkeypatch.delenv("MIGASFREE_STARTUP_SECRET", raising=False)
        base["migasfree.jwt_secret"] = "${MIGASFREE_STARTUP_SECRET}"
        with pytest.raises(ConfigurationError) as caught:
            make_config(base)
        assert "'migasfree.jwt_secret'" in str(caught.value)
        assert "MIGASFREE_STARTUP_SECRET" in str(caught.value)

    def test_malformed_value_names_the_key(self, base):
        base["migasfree.page_size"] = "many"
        with pytest.raises(ConfigurationError, match=r"'migasfree\.page_size'"):
            make_config(base)


class TestBundledAddons:
    def test_unknown_addon_is_named(self, base):
        base["migasfree.addons"] = "clients nosuchaddon"
        with pytest.raises(ConfigurationError) as caught:
            make_config(base)
        assert "'nosuchaddon'" in str(caught.value)
        assert "clients" in str(caught.value)  # the message lists what is installed

    def test_addon_with_wrong_settings_is_named(self, base):
        base["clients.hardware_period_days"] = "zero"
        with pytest.raises(ConfigurationError) as caught:
            make_config(base)
        message = str(caught.value)
        assert message.startswith("addon 'clients':")
        assert "clients.hardware_period_days" in message

    @pytest.mark.parametrize(
        ("addon", "needs"),
        [("clients", ""), ("hardware", "clients")],  # hardware builds on the clients addon
    )
    def test_left_out_addon_leaves_no_trace(self, base, addon, needs):
        if addon not in available_addons():
            pytest.skip(f"addon {addon} is not installed")
        with_addon = make_config({**base, "migasfree.addons": f"{needs} {addon}"})
        without = make_config({**base, "migasfree.addons": needs})
        assert with_addon.registry[ADDONS_KEY] == [*needs.split(), addon]
        assert without.registry[ADDONS_KEY] == needs.split()

        module = f"migasfree_addons.{addon}"
        routes_with, routes_without = routes(with_addon), routes(without)
        assert routes_without <= routes_with
        added = routes_with - routes_without
        assert not [name for name, _ in routes_without if name.startswith(addon)]
        assert not [key for key in without.registry.settings if key.startswith(f"{addon}.")]
        assert not from_module(module, registered_views(without.registry))
        assert not from_module(module, without.registry[POLICY_KEY].sources)
        assert not from_module(module, without.registry.get("migasfree.resources", []))
        addon_enums = {
            value
            for value in vars(sys.modules[module]).values()
            if isinstance(value, type) and issubclass(value, Enum)
        }
        assert not addon_enums & set(without.registry[PERMISSIONS_KEY])
        assert addon_enums <= set(with_addon.registry[PERMISSIONS_KEY])

        # Whatever the addon registers, its paths do not answer once it is left out.
        app = webtest.TestApp(without.make_wsgi_app())
        for _, pattern in sorted(added):
            path = re.sub(r"\{[^}]*\}", "1", pattern).replace("*subpath", "x")
            for method in (app.get, app.post):
                assert method(path, status="*").status_code == 404, path
        schema_paths = app.get("/api/schema/").json["paths"]
        assert not {pattern for _, pattern in added} & set(schema_paths)


def routes(config) -> set[tuple[str, str]]:
    return {(route.name, route.pattern) for route in config.get_routes_mapper().get_routes()}


def from_module(module: str, objects) -> list:
    return [obj for obj in objects if getattr(obj, "__module__", "").startswith(module)]


def registered_views(registry) -> list:
    return [
        item["introspectable"]["callable"] for item in registry.introspector.get_category("views")
    ]


# A third-party addon, as an installed package would provide it: this module is its package.
FAKE_SETTINGS = (
    Setting("fakeaddon.greeting", as_str, "hello", "what the ping answers"),
    Setting("fakeaddon.limit", as_int(1), 5, "a number that must be positive"),
)
FakePermission = model_permissions("FakePermission", "fakeaddon", {"widget": "widget"})


def includeme(config) -> None:
    settings = config.get_settings()
    settings.update(read_settings(settings, FAKE_SETTINGS))
    config.add_permissions(FakePermission)
    config.add_route("fakeaddon.ping", "/fakeaddon/ping/")
    config.add_view(
        ping_view, route_name="fakeaddon.ping", renderer="json", permission=NO_PERMISSION_REQUIRED
    )


def ping_view(request):
    return {"greeting": request.registry.settings["fakeaddon.greeting"]}


class FakeEntryPoint:
    def __init__(self, fail: bool = False):
        self.fail = fail

    def load(self):
        if self.fail:
            raise ImportError("No module named 'fake_dependency'")
        return sys.modules[__name__]


class TestThirdPartyAddons:
    def make(self, base, **settings):
        return make_config({**base, "migasfree.addons": "", **settings})

    def test_a_registered_addon_adds_its_route_settings_and_permissions(self, base):
        config = self.make(base, **{"fakeaddon.greeting": "hi"})
        enabled = include_addons(config, ["fakeaddon"], available={"fakeaddon": FakeEntryPoint()})
        assert enabled == ["fakeaddon"]
        assert config.registry.settings["fakeaddon.limit"] == 5
        assert FakePermission in config.registry[PERMISSIONS_KEY]
        app = webtest.TestApp(config.make_wsgi_app())
        assert app.get("/fakeaddon/ping/").json == {"greeting": "hi"}

    def test_including_twice_includes_once(self, base):
        config = self.make(base)
        available = {"fakeaddon": FakeEntryPoint()}
        include_addons(config, ["fakeaddon"], available=available)
        assert include_addons(config, ["fakeaddon", "fakeaddon"], available=available) == [
            "fakeaddon"
        ]

    def test_wrong_settings_name_the_addon_and_the_key(self, base):
        config = self.make(base, **{"fakeaddon.limit": "zero"})
        with pytest.raises(ConfigurationError) as caught:
            include_addons(config, ["fakeaddon"], available={"fakeaddon": FakeEntryPoint()})
        assert str(caught.value).startswith("addon 'fakeaddon':")
        assert "fakeaddon.limit" in str(caught.value)

    def test_an_addon_that_cannot_be_imported_is_named(self, base):
        config = self.make(base)
        with pytest.raises(ConfigurationError) as caught:
            include_addons(config, ["fakeaddon"], available={"fakeaddon": FakeEntryPoint(True)})
        assert "'fakeaddon'" in str(caught.value)
        assert "fake_dependency" in str(caught.value)

    def test_an_unknown_name_lists_the_installed_ones(self, base):
        config = self.make(base)
        with pytest.raises(ConfigurationError, match=r"'other'.*installed: fakeaddon"):
            include_addons(config, ["other"], available={"fakeaddon": FakeEntryPoint()})


SITE_INI = """\
[app:main]
use = egg:migasfree-pyramid
sqlalchemy.url = sqlite:///%(here)s/var/site.sqlite
migasfree.addons = clients
migasfree.var_dir = %(here)s/var
migasfree.public_dir = %(here)s/var/public
migasfree.keys_dir = %(here)s/var/keys
migasfree.jwt_secret = {secret}
huey.backend = immediate
"""


def new_site(folder) -> Path:
    """A fresh site: an ini and nothing else (no var/, as in a new clone)."""
    ini = folder / "site.ini"
    ini.write_text(SITE_INI.format(secret=SECRET))
    return ini


def run_script(main, *args, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def initdb(ini, *args) -> tuple[int, str, str]:
    return run_script(initialize_db.main, ini, *args)


def user_command(ini, *args, password="reader-password") -> tuple[int, str, str]:
    return run_script(users.main, ini, *args, "--password-stdin", stdin=password + "\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv(initialize_db.ADMIN_PASSWORD_ENV, raising=False)
    return new_site(tmp_path)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """``migasfree-initdb`` run twice on a fresh site, as ``./scripts/serve`` does."""
    ini = new_site(tmp_path_factory.mktemp("site"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(initialize_db.ADMIN_PASSWORD_ENV, raising=False)
        first, second = initdb(ini), initdb(ini)
    var = ini.parent / "var"
    return SimpleNamespace(ini=ini, var=var, first=first, second=second)


@pytest.fixture(scope="module")
def first_app(first_run):
    app = get_app(str(first_run.ini))
    yield webtest.TestApp(app)
    app.registry[ENGINE_KEY].dispose()


def admin_password(first_run) -> str:
    return (first_run.var / "admin-password.txt").read_text().strip()


def login(app, username, password):
    return app.post_json(
        "/token-auth-jwt/", {"username": username, "password": password}, status="*"
    )


class TestFirstRun:
    def test_the_password_is_printed_once_and_saved_privately(self, first_run):
        code, out, err = first_run.first
        assert code == 0, err
        password_file = first_run.var / "admin-password.txt"
        password = admin_password(first_run)
        assert len(password) >= 16
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert out.count(password) == 1
        assert "Administrator created: admin" in out
        assert "set-password admin" in out

    def test_the_second_run_creates_nothing_and_hides_the_password(self, first_run):
        code, out, err = first_run.second
        assert code == 0, err
        assert admin_password(first_run) not in out
        assert "Administrator created" not in out
        assert "keys" not in out
        assert str(first_run.var / "admin-password.txt") in out

    def test_server_and_packager_keys_are_created(self, first_run):
        assert sorted(os.listdir(first_run.var / "keys")) == [
            ".gnupg",  # the repository signing key's GnuPG home
            "migasfree-packager.pri",
            "migasfree-packager.pub",
            "migasfree-repository.gpg",
            "migasfree-server.pri",
            "migasfree-server.pub",
        ]

    def test_the_admin_logs_in_and_lists_projects(self, first_run, first_app):
        response = login(first_app, "admin", admin_password(first_run))
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json['access']}"}
        projects = first_app.get("/api/v1/token/projects/", headers=headers)
        assert projects.json == {"count": 0, "next": None, "previous": None, "results": []}

    def test_user_commands(self, first_run, first_app):
        ini = first_run.ini
        code, out, _ = user_command(ini, "create", "ana", "--group", "Reader")
        assert code == 0
        assert "ana" in out
        code, _, err = user_command(ini, "create", "ana")
        assert code == 1
        assert err.strip() == "migasfree-user: error: user 'ana' already exists"
        code, _, err = user_command(ini, "create", "bob", "--group", "Nope")
        assert code == 1
        assert "no such group: Nope" in err
        assert "Reader" in err  # the known groups are listed
        code, _, err = user_command(ini, "create", "carl", password="short")
        assert code == 1
        assert "at least 8 characters" in err
        code, _, err = user_command(ini, "create", "bad name")
        assert code == 2
        assert "invalid user name 'bad name'" in err
        code, _, err = user_command(ini, "set-password", "ghost")
        assert code == 1
        assert "no user 'ghost'" in err

        token = login(first_app, "ana", "reader-password").json["access"]
        headers = {"Authorization": f"Bearer {token}"}
        assert first_app.get("/api/v1/token/projects/", headers=headers).status_code == 200
        created = first_app.post_json(
            "/api/v1/token/projects/", {"name": "x"}, headers=headers, status="*"
        )
        assert created.status_code == 403  # a Reader reads, nothing more

        code, _, _ = user_command(ini, "set-password", "ana", password="new-reader-password")
        assert code == 0
        assert login(first_app, "ana", "reader-password").status_code == 401
        assert login(first_app, "ana", "new-reader-password").status_code == 200

    def test_admin_password_from_the_environment_is_neither_printed_nor_saved(
        self, site, monkeypatch
    ):
        monkeypatch.setenv(initialize_db.ADMIN_PASSWORD_ENV, "chosen-admin-password")
        code, out, _ = initdb(site, "--admin-username", "root")
        assert code == 0
        assert "chosen-admin-password" not in out
        assert "Administrator created: root" in out
        assert not (site.parent / "var" / "admin-password.txt").exists()
        app = get_app(str(site))
        try:
            assert login(webtest.TestApp(app), "root", "chosen-admin-password").status_code == 200
        finally:
            app.registry[ENGINE_KEY].dispose()

    def test_no_password_and_no_terminal_is_a_usage_error(self, site):
        code, _, err = run_script(users.main, site, "set-password", "admin")
        assert code == 2
        assert "--password-stdin" in err


class TestScriptErrors:
    def test_missing_ini(self, tmp_path):
        code, _, err = initdb(tmp_path / "nothere.ini")
        assert code == 2
        assert "no such configuration file" in err

    def test_bad_setting_is_named_without_a_traceback(self, site):
        site.write_text(site.read_text().replace(SECRET, "short"))
        code, _, err = initdb(site)
        assert code == 2
        assert "migasfree.jwt_secret" in err
        assert "Traceback" not in err

    def test_unknown_addon_is_named_without_a_traceback(self, site):
        site.write_text(site.read_text().replace("= clients", "= clients nosuchaddon"))
        code, _, err = initdb(site)
        assert code == 2
        assert "nosuchaddon" in err
        assert "Traceback" not in err

    def test_unreachable_database_is_one_line(self, site):
        url = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2"
        site.write_text(site.read_text().replace("sqlite:///%(here)s/var/site.sqlite", url))
        code, _, err = initdb(site)
        assert code == 1
        assert err.startswith("migasfree-initdb: error: database postgresql+psycopg://nobody@")
        assert "Traceback" not in err

    def test_bad_admin_name_or_short_admin_password_create_nothing(self, site, monkeypatch):
        code, _, err = initdb(site, "--admin-username", "no spaces please")
        assert code == 2
        assert "invalid user name" in err
        monkeypatch.setenv(initialize_db.ADMIN_PASSWORD_ENV, "short")
        code, _, err = initdb(site)
        assert code == 1
        assert "$MIGASFREE_ADMIN_PASSWORD must have at least 8 characters" in err
        assert not (site.parent / "var").exists()

    def test_user_command_before_initdb_says_what_to_run(self, site):
        code, _, err = user_command(site, "create", "ana")
        assert code == 1
        assert "migasfree-initdb" in err


def test_postgresql_connections_get_the_configured_settings(engine):
    from sqlalchemy import text

    with engine.connect() as conn:
        assert conn.scalar(text("SHOW jit")) == "off"
        assert conn.scalar(text("SHOW random_page_cost")) == "1.1"
