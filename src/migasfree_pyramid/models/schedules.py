"""Schedules: staged roll-outs of deployments by attribute, in working-day delays."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .attributes import Attribute
from .meta import Base, association

schedule_delay_attributes = association(
    "core_scheduledelay_attributes",
    "core_scheduledelay",
    "scheduledelay_id",
    "core_attribute",
    "attribute_id",
)


class Schedule(Base):
    __tablename__ = "core_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)

    delays: Mapped[list[ScheduleDelay]] = relationship(
        back_populates="schedule", order_by="ScheduleDelay.delay", passive_deletes=True
    )


class ScheduleDelay(Base):
    __tablename__ = "core_scheduledelay"
    __table_args__ = (
        UniqueConstraint("schedule_id", "delay"),
        CheckConstraint("duration >= 1", name="duration_positive"),
        CheckConstraint("delay >= 0", name="delay_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delay: Mapped[int] = mapped_column(Integer)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("core_schedule.id", ondelete="CASCADE"))
    duration: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    schedule: Mapped[Schedule] = relationship(
        back_populates="delays", lazy="joined", innerjoin=True
    )
    attributes: Mapped[list[Attribute]] = relationship(secondary=schedule_delay_attributes)
