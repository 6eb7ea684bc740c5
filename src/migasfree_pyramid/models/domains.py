"""Domains (delegated parts of the fleet) and scopes (a user's saved computer filter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .attributes import Attribute
from .meta import Base, association, attribute_links

if TYPE_CHECKING:
    from .users import UserProfile

DOMAIN_PREFIX = "DMN"

domain_included, domain_excluded = attribute_links("core_domain", "domain_id")
domain_tags = association(
    "core_domain_tags", "core_domain", "domain_id", "core_attribute", "attribute_id"
)
scope_included, scope_excluded = attribute_links("core_scope", "scope_id")

# Who belongs to each domain and scope (spec C.3: productive computers with an included sync
# attribute and no excluded one). Database triggers keep them (migration 0004), whoever writes
# the links, the statuses or the rules; the application only reads them (scoping.visibility).
domain_computers = association(
    "core_domain_computers", "core_domain", "domain_id", "client_computer", "computer_id"
)
scope_computers = association(
    "core_scope_computers", "core_scope", "scope_id", "client_computer", "computer_id"
)
# The sync attributes of each domain's computers (migration 0005), kept the same way.
domain_attributes = association(
    "core_domain_attributes", "core_domain", "domain_id", "core_attribute", "attribute_id"
)


class Domain(Base):
    """Computers with an included attribute and no excluded one; includes ``DMN-<name>``."""

    __tablename__ = "core_domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    comment: Mapped[str | None] = mapped_column(Text)

    included_attributes: Mapped[list[Attribute]] = relationship(secondary=domain_included)
    excluded_attributes: Mapped[list[Attribute]] = relationship(secondary=domain_excluded)
    tags: Mapped[list[Attribute]] = relationship(secondary=domain_tags)
    admins: Mapped[list[UserProfile]] = relationship(
        secondary="core_userprofile_domains", back_populates="domains"
    )


class Scope(Base):
    __tablename__ = "core_scope"
    __table_args__ = (
        UniqueConstraint("name", "domain_id", "user_id"),
        # NULLs never collide in the constraint above, so a scope without domain needs its own
        # unique index (the original only checked this in Python, spec A.1.13).
        Index(
            "uq_core_scope_name_user_id_no_domain",
            "name",
            "user_id",
            unique=True,
            postgresql_where=text("domain_id IS NULL"),
            sqlite_where=text("domain_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_userprofile.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_domain.id", ondelete="SET NULL"), index=True
    )

    user: Mapped[UserProfile] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)
    domain: Mapped[Domain | None] = relationship(lazy="joined")
    included_attributes: Mapped[list[Attribute]] = relationship(secondary=scope_included)
    excluded_attributes: Mapped[list[Attribute]] = relationship(secondary=scope_excluded)
