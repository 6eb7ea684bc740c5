"""Typed settings: parsing, defaults, ``${VAR}`` expansion and errors that name the key."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from migasfree_pyramid.settings import (
    CORE_SETTINGS,
    Setting,
    as_bool,
    as_choice,
    as_int,
    as_list,
    as_secret,
    expand_env,
    read_settings,
)

SECRET = "s" * 32


def core(**overrides) -> dict:
    raw = {"sqlalchemy.url": "sqlite://", "migasfree.jwt_secret": SECRET}
    raw.update(overrides)
    return raw


def configured(raw: dict, here: str) -> dict:
    config = Configurator(settings={"here": here, **raw})
    config.include("migasfree_pyramid.settings")
    return config.get_settings()


class TestExpandEnv:
    def test_variable_and_default(self):
        env = {"DB": "postgresql://db"}
        assert expand_env("k", "${DB}/x", env) == "postgresql://db/x"
        assert expand_env("k", "${NOPE:-fallback}", env) == "fallback"
        assert expand_env("k", "${DB:-fallback}", env) == "postgresql://db"
        assert expand_env("k", "${NOPE:-}", env) == ""

    def test_several_references_and_plain_text(self):
        env = {"A": "1", "B": "2"}
        assert expand_env("k", "${A}-${B}-${C:-3}", env) == "1-2-3"
        assert expand_env("k", "no references $HOME {A}", env) == "no references $HOME {A}"

    def test_missing_variable_names_key_and_variable(self):
        with pytest.raises(ConfigurationError) as caught:
            expand_env("migasfree.jwt_secret", "${MIGASFREE_JWT_SECRET}", {})
        assert "migasfree.jwt_secret" in str(caught.value)
        assert "MIGASFREE_JWT_SECRET" in str(caught.value)

    def test_reads_the_process_environment_by_default(self, monkeypatch):
        monkeypatch.setenv("MIGASFREE_UNIT_VALUE", "from-env")
        assert expand_env("k", "${MIGASFREE_UNIT_VALUE}") == "from-env"


class TestParsers:
    @pytest.mark.parametrize(("text", "value"), [("5", 5), (" 12 ", 12), (7, 7)])
    def test_int(self, text, value):
        assert as_int(1)(text) == value

    @pytest.mark.parametrize("text", ["0", "-3", "zero", "1.5", ""])
    def test_int_rejects(self, text):
        with pytest.raises(ValueError):
            as_int(1)(text)

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("true", True),
            ("Yes", True),
            ("on", True),
            ("1", True),
            ("false", False),
            ("no", False),
            ("OFF", False),
            ("0", False),
            (True, True),
        ],
    )
    def test_bool(self, text, value):
        assert as_bool(text) is value

    @pytest.mark.parametrize("text", ["maybe", "", "2", "tru"])
    def test_bool_rejects(self, text):
        with pytest.raises(ValueError, match="true or false"):
            as_bool(text)

    def test_list(self):
        assert as_list("clients  hardware\n devices") == ["clients", "hardware", "devices"]
        assert as_list("") == []
        assert as_list(["a", "b"]) == ["a", "b"]

    def test_secret_counts_bytes(self):
        assert as_secret(32)(" " + SECRET + " ") == SECRET
        assert as_secret(4)("éé") == "éé"  # 4 bytes in UTF-8
        with pytest.raises(ValueError, match="at least 32 bytes"):
            as_secret(32)("short")

    def test_choice(self):
        assert as_choice("redis", "sqlite")(" redis ") == "redis"
        with pytest.raises(ValueError, match="redis, sqlite"):
            as_choice("redis", "sqlite")("memcached")


class TestReadSettings:
    SPECS = (
        Setting("a.required"),
        Setting("a.number", as_int(1), 30),
        Setting("a.flag", as_bool, False),
    )

    def test_defaults_and_parsing(self):
        parsed = read_settings({"a.required": "x", "a.number": "4"}, self.SPECS, {})
        assert parsed == {"a.required": "x", "a.number": 4, "a.flag": False}

    def test_empty_optional_value_takes_the_default(self):
        parsed = read_settings({"a.required": "x", "a.number": "  "}, self.SPECS, {})
        assert parsed["a.number"] == 30

    def test_empty_variable_with_empty_default_takes_the_default(self):
        raw = {"a.required": "x", "a.flag": "${A_FLAG:-}"}
        assert read_settings(raw, self.SPECS, {})["a.flag"] is False

    def test_missing_required_names_the_key(self):
        with pytest.raises(ConfigurationError, match=r"'a\.required' is required"):
            read_settings({}, self.SPECS, {})

    def test_malformed_value_names_the_key_and_the_rule(self):
        with pytest.raises(ConfigurationError) as caught:
            read_settings({"a.required": "x", "a.number": "zero"}, self.SPECS, {})
        assert "'a.number'" in str(caught.value)

        with pytest.raises(ConfigurationError, match=r"'a\.number': must be at least 1"):
            read_settings({"a.required": "x", "a.number": "0"}, self.SPECS, {})

    def test_values_are_expanded_from_the_environment(self):
        raw = {"a.required": "${REQ}", "a.number": "${NUM:-9}"}
        parsed = read_settings(raw, self.SPECS, {"REQ": "from-env"})
        assert parsed["a.required"] == "from-env"
        assert parsed["a.number"] == 9

    def test_non_string_values_are_parsed_as_given(self):
        parsed = read_settings({"a.required": "x", "a.number": 3, "a.flag": True}, self.SPECS)
        assert parsed["a.number"] == 3
        assert parsed["a.flag"] is True


class TestCoreSettings:
    def test_every_core_key_is_documented_and_unique(self):
        keys = [spec.key for spec in CORE_SETTINGS]
        assert len(keys) == len(set(keys))
        assert all(spec.doc for spec in CORE_SETTINGS)

    def test_only_the_database_and_the_jwt_secret_are_required(self):
        required = {spec.key for spec in CORE_SETTINGS if spec.required}
        assert required == {"sqlalchemy.url", "migasfree.jwt_secret"}

    def test_defaults_and_paths_relative_to_the_ini(self, tmp_path):
        settings = configured(core(), str(tmp_path))
        assert settings["migasfree.addons"] == []
        assert settings["migasfree.page_size"] == 100
        assert settings["migasfree.docs"] is True
        assert settings["huey.backend"] == "immediate"
        assert settings["migasfree.var_dir"] == str(tmp_path / "var")
        assert settings["migasfree.keys_dir"] == str(tmp_path / "var/keys")
        assert settings["huey.sqlite_path"] == str(tmp_path / "var/huey.sqlite")

    def test_absolute_paths_are_kept(self, tmp_path):
        raw = core(**{"migasfree.keys_dir": "/srv/keys", "huey.sqlite_path": "/srv/q.sqlite"})
        settings = configured(raw, str(tmp_path))
        assert settings["migasfree.keys_dir"] == "/srv/keys"
        assert settings["huey.sqlite_path"] == "/srv/q.sqlite"

    def test_redis_queue_needs_a_url(self, tmp_path):
        with pytest.raises(ConfigurationError, match=r"huey\.url"):
            configured(core(**{"huey.backend": "redis"}), str(tmp_path))
        settings = configured(
            core(**{"huey.backend": "redis", "migasfree.redis_url": "redis://r:6379/1"}),
            str(tmp_path),
        )
        assert settings["huey.backend"] == "redis"

    def test_unknown_queue_backend_names_the_key(self, tmp_path):
        with pytest.raises(ConfigurationError, match=r"'huey\.backend': must be one of"):
            configured(core(**{"huey.backend": "rabbit"}), str(tmp_path))


def test_postgresql_settings_default_and_none():
    assert read_settings(core(), CORE_SETTINGS)["migasfree.postgresql_settings"] == (
        "jit=off",
        "random_page_cost=1.1",
    )
    raw = core(**{"migasfree.postgresql_settings": "none"})
    assert read_settings(raw, CORE_SETTINGS)["migasfree.postgresql_settings"] == ()
    raw = core(**{"migasfree.postgresql_settings": "work_mem=64MB\n jit=on"})
    assert read_settings(raw, CORE_SETTINGS)["migasfree.postgresql_settings"] == (
        "work_mem=64MB",
        "jit=on",
    )


@pytest.mark.parametrize("bad", ["jit", "jit=off -c x=1", "a=b;drop", "=1", "x='1'"])
def test_postgresql_settings_refuse_anything_but_name_value(bad):
    raw = core(**{"migasfree.postgresql_settings": bad})
    with pytest.raises(ConfigurationError, match=r"migasfree\.postgresql_settings"):
        read_settings(raw, CORE_SETTINGS)
