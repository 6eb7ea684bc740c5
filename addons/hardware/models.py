"""The lshw tree of each computer (spec A.4). Tables keep the original names (``hardware_*``).

Every row hangs off a computer through ON DELETE CASCADE chains, so replacing a capture is one
``DELETE FROM hardware_node WHERE computer_id = ...`` and the database removes the rest.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from migasfree_pyramid.models import Computer
from migasfree_pyramid.models.meta import Base

# The text columns that lshw fills with free text; NULL when lshw does not report them.
TEXT_FIELDS = (
    "description",
    "vendor",
    "product",
    "version",
    "serial",
    "bus_info",
    "physid",
    "slot",
    "dev",
)
NUMBER_FIELDS = ("width", "size", "capacity", "clock")


class HardwareNode(Base):
    """One lshw node (``id`` is stored as ``name``, ``class`` as ``class_name``)."""

    __tablename__ = "hardware_node"
    __table_args__ = (
        # "Nodes of a computer", and the summary's reads by class and name within one computer.
        Index("ix_hardware_node_computer_class_name", "computer_id", "class_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed: deleting a tree checks the self-reference row by row through it.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("hardware_node.id", ondelete="CASCADE"), index=True
    )
    computer_id: Mapped[int] = mapped_column(ForeignKey("client_computer.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text, default="")
    class_name: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    vendor: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    serial: Mapped[str | None] = mapped_column(Text)
    bus_info: Mapped[str | None] = mapped_column(Text)
    physid: Mapped[str | None] = mapped_column(Text)
    slot: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    capacity: Mapped[int | None] = mapped_column(BigInteger)
    clock: Mapped[int | None] = mapped_column(BigInteger)
    dev: Mapped[str | None] = mapped_column(Text)

    computer: Mapped[Computer] = relationship()
    capabilities: Mapped[list[HardwareCapability]] = relationship(
        order_by="HardwareCapability.id", viewonly=True
    )
    configurations: Mapped[list[HardwareConfiguration]] = relationship(
        order_by="HardwareConfiguration.id", viewonly=True
    )
    logical_names: Mapped[list[HardwareLogicalName]] = relationship(
        order_by="HardwareLogicalName.id", viewonly=True
    )

    def __str__(self) -> str:
        return self.product or self.description or self.name


class HardwareCapability(Base):
    __tablename__ = "hardware_capability"
    # (node, name) rather than the original's (name, node): the same uniqueness, and the index
    # also answers "capabilities of a node".
    __table_args__ = (UniqueConstraint("node_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hardware_node.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str | None] = mapped_column(Text)


class HardwareConfiguration(Base):
    __tablename__ = "hardware_configuration"
    __table_args__ = (UniqueConstraint("node_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hardware_node.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[str | None] = mapped_column(Text)


class HardwareLogicalName(Base):
    __tablename__ = "hardware_logicalname"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(
        ForeignKey("hardware_node.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text, default="")
