"""Packages (uploaded, or known from computers' inventories) and package sets (spec A.1.7-8)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, association
from .projects import Project, Store

package_set_packages = association(
    "core_packageset_packages", "core_packageset", "packageset_id", "core_package", "package_id"
)


class Package(Base):
    """A package file of a project; ``store`` is NULL for packages only seen in inventories."""

    __tablename__ = "core_package"
    __table_args__ = (UniqueConstraint("fullname", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fullname: Mapped[str] = mapped_column(String(270))
    name: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[str] = mapped_column(String(60))
    architecture: Mapped[str] = mapped_column(String(10))
    project_id: Mapped[int] = mapped_column(ForeignKey("core_project.id", ondelete="CASCADE"))
    # SET NULL rather than the original CASCADE: removing a store must not erase what computers
    # report having installed (their package history points at these rows).
    store_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_store.id", ondelete="SET NULL"), index=True
    )

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    store: Mapped[Store | None] = relationship(lazy="joined")


class PackageSet(Base):
    __tablename__ = "core_packageset"
    # The original checks this only in some code paths; a constraint makes it true everywhere.
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    project_id: Mapped[int] = mapped_column(ForeignKey("core_project.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_store.id", ondelete="CASCADE"), index=True
    )

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    store: Mapped[Store | None] = relationship(lazy="joined")
    packages: Mapped[list[Package]] = relationship(secondary=package_set_packages)
