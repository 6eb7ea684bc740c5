"""Deployments: repositories (internal) or proxied ones (external) targeted by attributes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .attributes import Attribute
from .domains import Domain
from .meta import Base, association, attribute_links
from .packages import Package, PackageSet
from .projects import Project
from .schedules import Schedule

SOURCE_INTERNAL = "I"
SOURCE_EXTERNAL = "E"
SOURCES = {SOURCE_INTERNAL: "Internal", SOURCE_EXTERNAL: "External"}
PACKAGE_LIST_FIELDS = (
    "packages_to_install",
    "packages_to_remove",
    "default_preincluded_packages",
    "default_included_packages",
    "default_excluded_packages",
)

deployment_included, deployment_excluded = attribute_links("core_deployment", "deployment_id")
deployment_packages = association(
    "core_deployment_available_packages",
    "core_deployment",
    "deployment_id",
    "core_package",
    "package_id",
)
deployment_package_sets = association(
    "core_deployment_available_package_sets",
    "core_deployment",
    "deployment_id",
    "core_packageset",
    "packageset_id",
)


class Deployment(Base):
    __tablename__ = "core_deployment"
    __table_args__ = (
        UniqueConstraint("name", "project_id"),
        UniqueConstraint("project_id", "slug"),
        CheckConstraint("source IN ('I', 'E')", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    name: Mapped[str] = mapped_column(String(50))
    slug: Mapped[str] = mapped_column(String(50))
    project_id: Mapped[int] = mapped_column(ForeignKey("core_project.id", ondelete="CASCADE"))
    domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_domain.id", ondelete="SET NULL"), index=True
    )
    comment: Mapped[str | None] = mapped_column(Text)
    packages_to_install: Mapped[str | None] = mapped_column(Text)
    packages_to_remove: Mapped[str | None] = mapped_column(Text)
    # RESTRICT, not the original CASCADE: deleting a schedule must not silently delete the
    # deployments that use it (spec F.21); the API answers 409 instead.
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_schedule.id", ondelete="RESTRICT"), index=True
    )
    start_date: Mapped[dt.date] = mapped_column(Date, default=dt.date.today)
    auto_restart: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    default_preincluded_packages: Mapped[str | None] = mapped_column(Text)
    default_included_packages: Mapped[str | None] = mapped_column(Text)
    default_excluded_packages: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(1), default=SOURCE_INTERNAL, server_default="I")
    base_url: Mapped[str | None] = mapped_column(String(100))
    options: Mapped[str | None] = mapped_column(String(250))
    suite: Mapped[str | None] = mapped_column(String(50))
    components: Mapped[str | None] = mapped_column(String(100))
    frozen: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    expire: Mapped[int] = mapped_column(Integer, default=1440, server_default="1440")

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    domain: Mapped[Domain | None] = relationship(lazy="joined")
    schedule: Mapped[Schedule | None] = relationship(lazy="joined")
    included_attributes: Mapped[list[Attribute]] = relationship(secondary=deployment_included)
    excluded_attributes: Mapped[list[Attribute]] = relationship(secondary=deployment_excluded)
    available_packages: Mapped[list[Package]] = relationship(secondary=deployment_packages)
    available_package_sets: Mapped[list[PackageSet]] = relationship(
        secondary=deployment_package_sets
    )
