"""Run the alembic migrations of the core and of every enabled addon (``upgrade heads``)."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from pyramid.paster import get_appsettings

from ..addons import available_addons, load_addon
from ..settings import as_list

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def migrations_dir() -> str:
    """The migrations folder: beside the sources in a checkout, or shipped in the package."""
    return os.path.join(ROOT, "migrations")


def version_locations(addons) -> list[str]:
    """The core's history plus the branch of each enabled addon that has migrations.

    A disabled addon's branch is left out, so ``upgrade heads`` creates none of its tables.
    """
    locations = [os.path.join(migrations_dir(), "versions")]
    available = available_addons()
    for name in addons:
        # Through the entry points, so that a third-party addon's branch is found as well.
        module = load_addon(name, available)
        folder = os.path.join(os.path.dirname(module.__file__), "migrations")
        if os.path.isdir(folder):
            locations.append(folder)
    return locations


def enabled_addons(ini_path: str | None, settings: dict | None) -> list[str]:
    if settings is not None:
        return as_list(settings.get("migasfree.addons", []))
    if ini_path is None:
        return []
    return as_list(get_appsettings(ini_path).get("migasfree.addons", ""))


def alembic_config(ini_path: str | None = None, addons=None, **attributes) -> Config:
    cfg = Config(ini_path) if ini_path else Config()
    if addons is None:
        addons = enabled_addons(ini_path, attributes.get("settings"))
    cfg.set_main_option("script_location", migrations_dir())
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("version_locations", " ".join(version_locations(addons)))
    cfg.attributes.update(attributes)
    return cfg


def upgrade(ini_path: str, url: str | None = None, engine=None, settings=None) -> None:
    attributes = {"url": url}
    if engine is not None:
        attributes["engine"] = engine
    if settings is not None:
        attributes["settings"] = settings
    command.upgrade(alembic_config(ini_path, **attributes), "heads")
