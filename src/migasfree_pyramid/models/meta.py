"""Declarative base, naming convention and small column helpers shared by every model."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, DateTime, ForeignKey, Index, MetaData, Table, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Alembic needs deterministic constraint names to alter them later, on PostgreSQL and SQLite alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend.

    SQLite stores naive values; we always write UTC and hand back aware UTC values so that the
    rest of the code never compares naive with aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if value is not None and dialect.name == "sqlite":
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def created_at_column() -> Mapped[dt.datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, server_default=func.now(), index=True)


def association(name: str, left: str, left_col: str, right: str, right_col: str) -> Table:
    """A many-to-many link table: composite primary key, cascading deletes on both sides.

    The reverse index serves "which rows point at this attribute" queries (scoping, matching).
    """
    table = Table(
        name,
        Base.metadata,
        Column(left_col, ForeignKey(f"{left}.id", ondelete="CASCADE"), primary_key=True),
        Column(right_col, ForeignKey(f"{right}.id", ondelete="CASCADE"), primary_key=True),
    )
    Index(f"ix_{name}_{right_col}", table.c[right_col], table.c[left_col])
    return table


def trigram_index(name: str, column: str) -> Index:
    """A GIN trigram index (PostgreSQL's pg_trgm, created by migration 0003): it serves the
    ``ILIKE '%word%'`` of admin searches and "contains" filters, which no b-tree can. Other
    databases get a plain index, unused by such searches but harmless."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def attribute_links(owner_table: str, owner_col: str) -> tuple[Table, Table]:
    """The included/excluded attribute tables that many core objects carry."""
    return (
        association(
            f"{owner_table}_included_attributes",
            owner_table,
            owner_col,
            "core_attribute",
            "attribute_id",
        ),
        association(
            f"{owner_table}_excluded_attributes",
            owner_table,
            owner_col,
            "core_attribute",
            "attribute_id",
        ),
    )
