"""Alembic environment: one history, one ``alembic_version`` table, a branch per addon.

The database URL and the enabled addons come from the application's ini section, so
``alembic -c development.ini upgrade heads`` works with no other configuration. Tools that
already hold an engine (the test suite, ``migasfree-initdb``) pass it in ``config.attributes``.
"""

from __future__ import annotations

import importlib

from alembic import context
from pyramid.paster import get_appsettings, setup_logging

from migasfree_pyramid.addons import available_addons, load_addon
from migasfree_pyramid.db import make_engine
from migasfree_pyramid.models import Base
from migasfree_pyramid.models.meta import UTCDateTime
from migasfree_pyramid.settings import CORE_SETTINGS, read_settings

config = context.config


def app_settings() -> dict:
    if config.attributes.get("settings"):
        return config.attributes["settings"]
    setup_logging(config.config_file_name)
    raw = dict(get_appsettings(config.config_file_name))
    return read_settings(raw, [s for s in CORE_SETTINGS if s.key != "migasfree.jwt_secret"])


def import_addon_models(addons) -> None:
    """Tables of enabled addons must be in the metadata for autogenerate and comparisons."""
    available = available_addons()
    for name in addons:
        module = load_addon(name, available)
        try:
            importlib.import_module(f"{module.__name__}.models")
        except ModuleNotFoundError:
            continue


def render_item(type_, obj, autogen_context):
    """Autogenerate writes our portable types as plain SQLAlchemy types."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    settings = app_settings()
    import_addon_models(settings.get("migasfree.addons", []))
    connectable = config.attributes.get("connection") or config.attributes.get("engine")
    if connectable is None:
        connectable = make_engine(config.attributes.get("url") or settings["sqlalchemy.url"])
    connection = connectable.connect() if hasattr(connectable, "dispose") else connectable
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Two deploys migrating at once queue here instead of colliding.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('alembic'))")
            context.run_migrations()
        if connection is not connectable:
            connection.commit()
    finally:
        if connection is not connectable:
            connection.close()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations()
