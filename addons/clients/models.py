"""What clients report: errors, faults and their definitions, migrations, package history and
synchronizations (spec A.2.4-A.2.11). Tables keep the original names (``client_*``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from migasfree_pyramid.models import Attribute, ClientUser, Computer, Package, Project, UserProfile
from migasfree_pyramid.models.meta import (
    Base,
    UTCDateTime,
    association,
    attribute_links,
    created_at_column,
)


class Synchronization(Base):
    __tablename__ = "client_synchronization"
    __table_args__ = (
        Index("ix_client_synchronization_computer_created", "computer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    computer_id: Mapped[int] = mapped_column(ForeignKey("client_computer.id", ondelete="CASCADE"))
    start_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # SET NULL, not the original CASCADE: forgetting a desktop user keeps the history (F.21).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_user.id", ondelete="SET NULL"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_project.id", ondelete="CASCADE"), index=True
    )
    consumer: Mapped[str | None] = mapped_column(String(50))
    pms_status_ok: Mapped[bool] = mapped_column(Boolean, default=False)

    computer: Mapped[Computer] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[ClientUser | None] = relationship(lazy="joined")
    project: Mapped[Project | None] = relationship(lazy="joined")


class Error(Base):
    __tablename__ = "client_error"
    __table_args__ = (Index("ix_client_error_computer_created", "computer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    computer_id: Mapped[int] = mapped_column(ForeignKey("client_computer.id", ondelete="CASCADE"))
    description: Mapped[str | None] = mapped_column(Text)
    checked: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("core_project.id", ondelete="CASCADE"), index=True
    )
    synchronization_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_synchronization.id", ondelete="SET NULL"), index=True
    )

    computer: Mapped[Computer] = relationship(lazy="joined", innerjoin=True)
    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    synchronization: Mapped[Synchronization | None] = relationship()


fault_definition_included, fault_definition_excluded = attribute_links(
    "client_faultdefinition", "faultdefinition_id"
)
fault_definition_users = association(
    "client_faultdefinition_users",
    "client_faultdefinition",
    "faultdefinition_id",
    "core_userprofile",
    "userprofile_id",
)


class FaultDefinition(Base):
    __tablename__ = "client_faultdefinition"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(Text, default="")

    included_attributes: Mapped[list[Attribute]] = relationship(secondary=fault_definition_included)
    excluded_attributes: Mapped[list[Attribute]] = relationship(secondary=fault_definition_excluded)
    users: Mapped[list[UserProfile]] = relationship(secondary=fault_definition_users)


class Fault(Base):
    __tablename__ = "client_fault"
    __table_args__ = (Index("ix_client_fault_computer_created", "computer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    computer_id: Mapped[int] = mapped_column(ForeignKey("client_computer.id", ondelete="CASCADE"))
    fault_definition_id: Mapped[int] = mapped_column(
        ForeignKey("client_faultdefinition.id", ondelete="CASCADE"), index=True
    )
    result: Mapped[str | None] = mapped_column(Text)
    checked: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("core_project.id", ondelete="CASCADE"), index=True
    )
    synchronization_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_synchronization.id", ondelete="SET NULL"), index=True
    )

    computer: Mapped[Computer] = relationship(lazy="joined", innerjoin=True)
    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    fault_definition: Mapped[FaultDefinition] = relationship(lazy="joined", innerjoin=True)
    synchronization: Mapped[Synchronization | None] = relationship()


class Migration(Base):
    """A computer moved to another project (recorded by the sync path, spec B.9)."""

    __tablename__ = "client_migration"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    computer_id: Mapped[int] = mapped_column(
        ForeignKey("client_computer.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("core_project.id", ondelete="CASCADE"), index=True
    )

    computer: Mapped[Computer] = relationship(lazy="joined", innerjoin=True)
    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)


class PackageHistory(Base):
    """A package installed on a computer; ``uninstall_date`` NULL while it is still there."""

    __tablename__ = "client_packagehistory"
    __table_args__ = (
        # The inventory diff reads a computer's open rows; this index answers it alone.
        Index(
            "ix_client_packagehistory_computer_open", "computer_id", "uninstall_date", "package_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    computer_id: Mapped[int] = mapped_column(ForeignKey("client_computer.id", ondelete="CASCADE"))
    package_id: Mapped[int] = mapped_column(
        ForeignKey("core_package.id", ondelete="CASCADE"), index=True
    )
    install_date: Mapped[dt.datetime | None] = created_at_column()
    uninstall_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    computer: Mapped[Computer] = relationship(lazy="joined", innerjoin=True)
    package: Mapped[Package] = relationship(lazy="joined", innerjoin=True)
