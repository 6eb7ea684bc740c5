"""The build status of each internal deployment's repository (one row per deployment).

Not in the original (it kept "being generated" ids in a Redis set and lost them when a task
died). ``pending`` is the "build again" flag: a trigger sets it, a build clears it when it
starts, so any number of triggers during a build cause exactly one more build.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime

IDLE, QUEUED, BUILDING, FAILED = "idle", "queued", "building", "failed"
STATES = (IDLE, QUEUED, BUILDING, FAILED)


class DeploymentBuild(Base):
    __tablename__ = "core_deploymentbuild"
    __table_args__ = (
        CheckConstraint("state IN ('idle', 'queued', 'building', 'failed')", name="state"),
    )

    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("core_deployment.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(10), default=IDLE, server_default=IDLE)
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    build_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
