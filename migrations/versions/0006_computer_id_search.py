"""computer id search: a trigram index of the id as text

The computers search also matches the id when the word is a number (``CAST(id AS VARCHAR)
ILIKE '%4242%'``, as the original's search on the id did); no b-tree serves a substring, so
PostgreSQL read the whole primary key (100,000 entries, 30 ms per statement, twice per page).
A GIN trigram index of the expression (pg_trgm, migration 0003) serves it. PostgreSQL only:
SQLite has no such index, and its fleets are small.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_client_computer_id_trgm ON client_computer"
            " USING gin ((CAST(id AS VARCHAR)) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_client_computer_id_trgm")
