"""Computers, the desktop users they report, and their status history (spec A.2.1, A.2.2, A.2.10).

They live in the core because the core's scoping rules (domains and scopes are sets of computer
attributes) need them; everything else a client sends belongs to the clients addon.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    cast,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.status import PRODUCTIVE_ORDERED
from .attributes import Attribute
from .meta import Base, UTCDateTime, association, created_at_column, trigram_index, utcnow
from .projects import Project

computer_tags = association(
    "client_computer_tags", "client_computer", "computer_id", "core_attribute", "attribute_id"
)
# On PostgreSQL, migration 0003 also pins the planner's estimate of distinct attribute ids in
# this table (ANALYZE's sample underestimates them badly; see the migration).
computer_sync_attributes = association(
    "client_computer_sync_attributes",
    "client_computer",
    "computer_id",
    "core_attribute",
    "attribute_id",
)

MACHINE_CHOICES = {"P": "Physical", "V": "Virtual"}
# The few computers out of production, for domain scoping (scoping.visibility): checking "not
# unproductive" reads this small index instead of the status of every computer of a domain.
UNPRODUCTIVE = text(
    "status NOT IN (" + ", ".join(f"'{status}'" for status in PRODUCTIVE_ORDERED) + ")"
)
MAC_MAX_LEN = 60


class ClientUser(Base):
    """A desktop login user reported by computers (not an account of this server)."""

    __tablename__ = "client_user"
    __table_args__ = (
        UniqueConstraint("name", "fullname"),
        # Searched (ILIKE '%word%') by the computers' and synchronizations' admin lists.
        trigram_index("ix_client_user_name_trgm", "name"),
        trigram_index("ix_client_user_fullname_trgm", "fullname"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    fullname: Mapped[str] = mapped_column(String(100), default="", server_default="")

    def __str__(self) -> str:
        return f"{self.name} ({self.fullname})" if self.fullname else self.name


class Computer(Base):
    __tablename__ = "client_computer"
    __table_args__ = (
        Index("ix_client_computer_status_project", "status", "project_id"),
        trigram_index("ix_client_computer_name_trgm", "name"),
        Index(
            "ix_client_computer_unproductive",
            "id",
            postgresql_where=UNPRODUCTIVE,
            sqlite_where=UNPRODUCTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL (not the original '') when unknown, so that two computers without uuid do not collide
    # on the unique constraint (spec F.10).
    uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="assigned", server_default="assigned")
    name: Mapped[str | None] = mapped_column(String(50), index=True)
    fqdn: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(
        ForeignKey("core_project.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    forwarded_ip_address: Mapped[str | None] = mapped_column(String(45))
    last_hardware_capture: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sync_start_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Indexed: admins sort the computer list by last synchronisation.
    sync_end_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # SET NULL, not the original CASCADE: forgetting a desktop user must not delete computers.
    sync_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_user.id", ondelete="SET NULL"), index=True
    )
    product: Mapped[str | None] = mapped_column(String(80))
    machine: Mapped[str] = mapped_column(String(1), default="P", server_default="P")
    cpu: Mapped[str | None] = mapped_column(String(50))
    ram: Mapped[int | None] = mapped_column(BigInteger)
    storage: Mapped[int | None] = mapped_column(BigInteger)
    disks: Mapped[int | None] = mapped_column(SmallInteger)
    mac_address: Mapped[str | None] = mapped_column(String(MAC_MAX_LEN))
    comment: Mapped[str | None] = mapped_column(Text)

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    sync_user: Mapped[ClientUser | None] = relationship(lazy="joined")
    tags: Mapped[list[Attribute]] = relationship(secondary=computer_tags)
    sync_attributes: Mapped[list[Attribute]] = relationship(secondary=computer_sync_attributes)

    def __str__(self) -> str:
        return f"CID-{self.id}"


# The computers search compares the id as text when the word is a number (migration 0006): a
# trigram index of that expression, on PostgreSQL only (an expression of the mapped column, so
# it is declared after the class).
Index(
    "ix_client_computer_id_trgm",
    cast(Computer.id, String).label("id_text"),
    postgresql_using="gin",
    postgresql_ops={"id_text": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


class StatusLog(Base):
    """One row per status a computer took, written by every status change (spec B.8)."""

    __tablename__ = "client_statuslog"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    computer_id: Mapped[int] = mapped_column(
        ForeignKey("client_computer.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="assigned")

    computer: Mapped[Computer] = relationship()
