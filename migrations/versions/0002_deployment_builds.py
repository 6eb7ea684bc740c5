"""deployment builds: the repository build status of each internal deployment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_deploymentbuild",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="idle", nullable=False),
        sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("build_count", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "state IN ('idle', 'queued', 'building', 'failed')",
            name=op.f("ck_core_deploymentbuild_state"),
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["core_deployment.id"],
            name=op.f("fk_core_deploymentbuild_deployment_id_core_deployment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_core_deploymentbuild")),
    )


def downgrade() -> None:
    op.drop_table("core_deploymentbuild")
