"""fleet indexes: what the admin lists of a 100,000-computer fleet need (bench/admin_lists.py)

- ``client_computer.sync_end_date``: the computer list sorted by last synchronisation.
- ``ix_client_computer_unproductive``: a partial index of the few computers out of production,
  so that domain scoping checks "not unproductive" instead of reading every status.
- trigram (pg_trgm) GIN indexes for ``ILIKE '%word%'``: computer and desktop-user names (the
  computer search), attribute values (the ``sync_attributes`` filter). pg_trgm ships with
  PostgreSQL (contrib) and is a trusted extension: the database owner may create it.
- the number of distinct ``attribute_id`` of ``client_computer_sync_attributes`` (PostgreSQL
  statistics only, no schema change): ANALYZE's sample sees the few attributes every computer
  has (SET-All Systems, PRJ, PLT...) and misses most of those unique to one computer (CID, HST,
  IP), so it guessed 11,000 distinct attributes for 336,000 in the benchmark fleet. It then
  expected 150 computers behind every attribute of a domain's rule and planned domain scoping
  with scans of the whole link table. About one link in five points at a distinct attribute
  (per computer: its CID, hostname and address among some 17 attributes), so the estimate is
  pinned at 20 % of the rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPRODUCTIVE = sa.text("status NOT IN ('assigned', 'reserved', 'unknown')")
TRIGRAM = (
    ("core_attribute", "ix_core_attribute_value_trgm", "value"),
    ("client_computer", "ix_client_computer_name_trgm", "name"),
    ("client_user", "ix_client_user_name_trgm", "name"),
    ("client_user", "ix_client_user_fullname_trgm", "fullname"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table("client_computer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_computer_sync_end_date"), ["sync_end_date"], unique=False
        )
        batch_op.create_index(
            "ix_client_computer_unproductive",
            ["id"],
            unique=False,
            postgresql_where=UNPRODUCTIVE,
            sqlite_where=UNPRODUCTIVE,
        )
    for table, name, column in TRIGRAM:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                name,
                [column],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE client_computer_sync_attributes"
            " ALTER COLUMN attribute_id SET (n_distinct = -0.2)"
        )
        op.execute("ANALYZE client_computer_sync_attributes")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE client_computer_sync_attributes ALTER COLUMN attribute_id RESET (n_distinct)"
        )
    # The pg_trgm extension stays: other objects of the database may use it.
    for table, name, _ in reversed(TRIGRAM):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("client_computer", schema=None) as batch_op:
        batch_op.drop_index("ix_client_computer_unproductive")
        batch_op.drop_index(batch_op.f("ix_client_computer_sync_end_date"))
