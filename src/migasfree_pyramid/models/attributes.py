"""Properties (formulas, stamps), attributes, attribute sets, singularities (A.1.1-3, A.1.14)."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, attribute_links, trigram_index

PROPERTY_SORTS = ("basic", "client", "server")
PROPERTY_KINDS = {
    "N": "Normal",
    "-": "List",
    "L": "Added to the left",
    "R": "Added to the right",
    "J": "JSON",
}
LANGUAGES = {0: "bash", 1: "python", 2: "perl", 3: "php", 4: "ruby", 5: "cmd", 6: "powershell"}
ALL_SYSTEMS_VALUE = "All Systems"
PREFIX_LEN = 3
VALUE_LEN = 250


class Property(Base):
    """A formula run by clients (sort client/basic) or a server-side tag category (sort server)."""

    __tablename__ = "core_property"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(PREFIX_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    kind: Mapped[str] = mapped_column(String(1), default="N", server_default="N")
    sort: Mapped[str] = mapped_column(String(10), default="client", server_default="client")
    auto_add: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    language: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Property {self.prefix}>"


attribute_set_included, attribute_set_excluded = attribute_links(
    "core_attributeset", "attributeset_id"
)
singularity_included, singularity_excluded = attribute_links("core_singularity", "singularity_id")


class Attribute(Base):
    """A value of a property: ``PRJ-debian-12``, ``CID-42``, ``SET-All Systems``..."""

    __tablename__ = "core_attribute"
    __table_args__ = (
        UniqueConstraint("property_att_id", "value"),
        # The computers' ``sync_attributes`` filter looks for a value containing a text.
        trigram_index("ix_core_attribute_value_trgm", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_att_id: Mapped[int] = mapped_column(
        ForeignKey("core_property.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[str] = mapped_column(String(VALUE_LEN))
    description: Mapped[str | None] = mapped_column(Text)
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)

    property_att: Mapped[Property] = relationship(lazy="joined", innerjoin=True)

    @property
    def prefix(self) -> str:
        return self.property_att.prefix

    def __str__(self) -> str:
        if self.property_att.prefix == "SET" and self.value == ALL_SYSTEMS_VALUE:
            return self.value
        return f"{self.property_att.prefix}-{self.value}"


class AttributeSet(Base):
    """A named boolean combination of attributes, mirrored as the attribute ``SET-<name>``."""

    __tablename__ = "core_attributeset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)

    included_attributes: Mapped[list[Attribute]] = relationship(secondary=attribute_set_included)
    excluded_attributes: Mapped[list[Attribute]] = relationship(secondary=attribute_set_excluded)


class Singularity(Base):
    """Alternative code of a client property for the computers that match its attributes."""

    __tablename__ = "core_singularity"
    __table_args__ = (UniqueConstraint("name", "property_att_id", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    name: Mapped[str] = mapped_column(String(50), unique=True)
    property_att_id: Mapped[int] = mapped_column(
        ForeignKey("core_property.id", ondelete="CASCADE"), index=True
    )
    priority: Mapped[int] = mapped_column(Integer)
    language: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code: Mapped[str | None] = mapped_column(Text)

    property_att: Mapped[Property] = relationship(lazy="joined", innerjoin=True)
    included_attributes: Mapped[list[Attribute]] = relationship(secondary=singularity_included)
    excluded_attributes: Mapped[list[Attribute]] = relationship(secondary=singularity_excluded)
