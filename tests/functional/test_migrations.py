"""``alembic upgrade heads`` builds exactly the schema the models declare, on PostgreSQL and on
SQLite, and the history goes down to base and up again.

Every installed addon is enabled for the check, so each addon's branch is compared with its
models too.
"""

from __future__ import annotations

import importlib
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from migasfree_pyramid.addons import available_addons
from migasfree_pyramid.db import make_engine
from migasfree_pyramid.models import Base
from migasfree_pyramid.scripts.migrate import alembic_config

from ..conftest import TESTING_INI, database_url


def addons_to_check() -> list[str]:
    """Every installed addon, plus any whose models this test run imported: their tables are in
    ``Base.metadata``, so their branches must be migrated for the comparison to hold."""
    imported = {
        name.split(".")[1]
        for name in sys.modules
        if name.startswith("migasfree_addons.") and name.endswith(".models")
    }
    names = sorted(set(available_addons()) | imported)
    for name in names:
        try:
            importlib.import_module(f"migasfree_addons.{name}.models")
        except ModuleNotFoundError as error:
            if error.name != f"migasfree_addons.{name}.models":
                raise
    return names


def config(engine):
    settings = {
        "sqlalchemy.url": engine.url.render_as_string(hide_password=False),
        "migasfree.addons": addons_to_check(),
    }
    return alembic_config(str(TESTING_INI), engine=engine, settings=settings)


def migrate(engine, revision: str, downgrade: bool = False) -> None:
    (command.downgrade if downgrade else command.upgrade)(config(engine), revision)


def schema_differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def table_names(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def check_round_trip(engine) -> None:
    migrate(engine, "heads")
    assert schema_differences(engine) == []
    assert table_names(engine) == set(Base.metadata.tables) | {"alembic_version"}

    migrate(engine, "base", downgrade=True)
    assert table_names(engine) <= {"alembic_version"}

    migrate(engine, "heads")
    assert schema_differences(engine) == []


@pytest.fixture
def postgres_engine():
    url = make_url(database_url())
    if url.get_backend_name() != "postgresql":
        pytest.skip("the test database is not PostgreSQL")
    # Named after the test database, so runs against different test databases never collide.
    name = f"{url.database}_schema_check"
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    drop()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    drop()
    admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    yield engine
    engine.dispose()


def test_postgresql_schema_matches_the_models(postgres_engine):
    check_round_trip(postgres_engine)


# The id's trigram index exists on PostgreSQL only (``ddl_if``); alembic cannot reflect SQLite's
# expression indexes, says so, and leaves it out of the comparison.
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index "
    "'ix_client_computer_id_trgm'"
)
def test_sqlite_schema_matches_the_models(sqlite_engine):
    check_round_trip(sqlite_engine)


def test_foreign_keys_are_enforced_on_sqlite(sqlite_engine):
    """The embedded default relies on ON DELETE rules; SQLite ignores them unless told."""
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_every_branch_is_at_its_head(sqlite_engine):
    migrate(sqlite_engine, "heads")
    script = ScriptDirectory.from_config(config(sqlite_engine))
    with sqlite_engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    # alembic_version omits a head that another head depends on (core, under each addon).
    applied = {rev.revision for rev in script.iterate_revisions(current, "base")}
    assert set(script.get_heads()) <= applied
    labels = {label for rev in script.walk_revisions() for label in rev.branch_labels}
    assert "core" in labels
