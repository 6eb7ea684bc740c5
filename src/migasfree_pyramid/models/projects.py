"""Platforms, projects (one per OS release) and package stores (spec A.1.4-A.1.6)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base


class Platform(Base):
    __tablename__ = "core_platform"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Project(Base):
    __tablename__ = "core_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    pms: Mapped[str] = mapped_column(String(50))
    architecture: Mapped[str] = mapped_column(String(20))
    auto_register_computers: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0"
    )
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("core_platform.id", ondelete="CASCADE"), index=True
    )

    platform: Mapped[Platform] = relationship(lazy="joined", innerjoin=True)


class Store(Base):
    __tablename__ = "core_store"
    __table_args__ = (
        UniqueConstraint("name", "project_id"),
        UniqueConstraint("project_id", "slug"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    slug: Mapped[str] = mapped_column(String(50))
    project_id: Mapped[int] = mapped_column(ForeignKey("core_project.id", ondelete="CASCADE"))

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
