"""Typed settings with defaults, validated at start-up.

Every key the application reads is declared here (or by an addon through ``declare``) with its
parser and default. ``${VAR}`` and ``${VAR:-default}`` in an ini value are expanded from the
environment, which is how production.ini takes its secrets without committing them. A missing or
malformed value stops start-up with a ``ConfigurationError`` that names the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool, aslist

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_REQUIRED = object()

# Per-connection PostgreSQL settings for this workload (short OLTP statements on data that is
# cached or on SSDs): JIT compiling costs 20-100 ms on the count of a big list and never pays
# back on such statements; the default random_page_cost (4, for spinning disks) makes the
# planner read whole tables where a few hundred index lookups answer (bench/README.md).
DEFAULT_POSTGRESQL_SETTINGS = ("jit=off", "random_page_cost=1.1")


def expand_env(key: str, value: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``${VAR}`` / ``${VAR:-default}`` references in ``value``."""
    environ = os.environ if environ is None else environ

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigurationError(f"setting {key!r} needs the environment variable {name}")

    return _ENV_REF.sub(replace, value)


def as_int(minimum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(str(value).strip())
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum}")
        return number

    return parse


def as_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text not in {"true", "false", "yes", "no", "on", "off", "1", "0", "t", "f", "y", "n"}:
        raise ValueError("must be true or false")
    return asbool(text)


def as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list | tuple) else aslist(str(value))


_SERVER_SETTING = re.compile(r"[a-z_][a-z0-9_.]*=[A-Za-z0-9_.+-]+")


def as_server_settings(value: Any) -> tuple[str, ...]:
    """``name=value`` pairs of server settings (they go into a connection option string, so
    nothing but names and plain values is accepted)."""
    pairs = tuple(as_list(value))
    if pairs == ("none",):
        return ()
    for pair in pairs:
        if not _SERVER_SETTING.fullmatch(pair):
            raise ValueError(f"{pair!r} is not name=value")
    return pairs


def as_str(value: Any) -> str:
    return str(value).strip()


def as_secret(min_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = str(value).strip()
        if len(text.encode()) < min_length:
            raise ValueError(f"must be at least {min_length} bytes long")
        return text

    return parse


def as_choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = str(value).strip()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return parse


@dataclass(frozen=True)
class Setting:
    key: str
    parse: Callable[[Any], Any] = as_str
    default: Any = _REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("sqlalchemy.url", doc="database URL (sqlite:/// or postgresql+psycopg://)"),
    Setting("migasfree.addons", as_list, [], "addons to enable, by entry-point name"),
    Setting(
        "migasfree.postgresql_settings",
        as_server_settings,
        DEFAULT_POSTGRESQL_SETTINGS,
        "PostgreSQL settings of the app's connections (name=value ...; 'none' for none)",
    ),
    Setting("migasfree.var_dir", as_str, "var", "where the embedded default keeps its files"),
    Setting("migasfree.public_dir", as_str, "var/public", "repositories and package stores"),
    Setting("migasfree.keys_dir", as_str, "var/keys", "server, project and repository keys"),
    Setting("migasfree.public_url", as_str, "/pub/", "URL prefix under which public_dir is served"),
    Setting("migasfree.serve_public", as_bool, False, "serve public_dir from the app (dev only)"),
    Setting("migasfree.autoregister", as_bool, True, "projects and platforms may self-register"),
    Setting("migasfree.timezone", as_str, "UTC", "zone of the calendar that deployment dates use"),
    Setting("migasfree.page_size", as_int(1), 100, "default page size of admin lists"),
    Setting("migasfree.max_page_size", as_int(1), 10000, "largest page size a caller may ask"),
    Setting(
        "migasfree.exact_count_limit",
        as_int(0),
        1_000_000,
        "above it the unfiltered event logs answer an estimated count (0: always exact)",
    ),
    Setting("migasfree.jwt_secret", as_secret(32), doc="HMAC key of admin JWTs (32+ bytes)"),
    Setting("migasfree.jwt_access_minutes", as_int(1), 5, "lifetime of an access token"),
    Setting("migasfree.jwt_refresh_minutes", as_int(1), 1440, "lifetime of a refresh token"),
    Setting("migasfree.redis_url", as_str, "", "Redis for locks, counters and the task queue"),
    Setting("migasfree.redis_prefix", as_str, "migasfree", "prefix of the keys kept in Redis"),
    Setting("huey.backend", as_choice("redis", "sqlite", "immediate"), "immediate", "task queue"),
    Setting("huey.url", as_str, "", "Redis URL of the task queue (backend redis)"),
    Setting("huey.sqlite_path", as_str, "var/huey.sqlite", "queue file (backend sqlite)"),
    Setting("migasfree.docs", as_bool, True, "serve /api/schema/ and the Swagger UI at /docs/"),
)


def read_settings(
    raw: dict[str, Any], specs: Iterable[Setting], environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """Parse ``specs`` out of ``raw`` and return ``{key: typed value}``.

    Raises ``ConfigurationError`` naming the first key that is missing or malformed.
    """
    parsed: dict[str, Any] = {}
    for spec in specs:
        value = raw.get(spec.key)
        if isinstance(value, str):
            value = expand_env(spec.key, value, environ)
            if value.strip() == "" and not spec.required:
                value = None
        if value is None:
            if spec.required:
                raise ConfigurationError(f"setting {spec.key!r} is required ({spec.doc})")
            parsed[spec.key] = spec.default
            continue
        try:
            parsed[spec.key] = spec.parse(value)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"setting {spec.key!r}: {error}") from error
    return parsed


def includeme(config) -> None:
    """Validate the core settings and store the typed values back into the registry."""
    settings = config.get_settings()
    typed = read_settings(settings, CORE_SETTINGS)
    here = settings.get("here") or os.getcwd()
    for key in ("migasfree.var_dir", "migasfree.public_dir", "migasfree.keys_dir"):
        typed[key] = os.path.abspath(os.path.join(here, typed[key]))
    if not typed["huey.sqlite_path"].startswith("/"):
        typed["huey.sqlite_path"] = os.path.join(here, typed["huey.sqlite_path"])
    if typed["huey.backend"] == "redis" and not (typed["huey.url"] or typed["migasfree.redis_url"]):
        raise ConfigurationError("setting 'huey.url' is required when huey.backend = redis")
    settings.update(typed)
