"""Run the alembic migrations of the core and of every enabled addon (``upgrade heads``)."""

from __future__ import annotations

import glob
import os

from alembic import command
from alembic.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def migrations_dir() -> str:
    """The migrations folder: beside the sources in a checkout, or shipped in the package."""
    return os.path.join(ROOT, "migrations")


def version_locations() -> list[str]:
    addon_dirs = sorted(glob.glob(os.path.join(ROOT, "addons", "*", "migrations")))
    return [os.path.join(migrations_dir(), "versions"), *addon_dirs]


def alembic_config(ini_path: str | None = None, **attributes) -> Config:
    cfg = Config(ini_path) if ini_path else Config()
    cfg.set_main_option("script_location", migrations_dir())
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.attributes.update(attributes)
    return cfg


def upgrade(ini_path: str, url: str | None = None, engine=None, settings=None) -> None:
    attributes = {"url": url}
    if engine is not None:
        attributes["engine"] = engine
    if settings is not None:
        attributes["settings"] = settings
    command.upgrade(alembic_config(ini_path, **attributes), "heads")
