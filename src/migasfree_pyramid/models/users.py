"""Administrators: user profiles, groups, permissions and API tokens (spec A.1.15, C.1-C.2)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .domains import Domain, Scope
from .meta import Base, UTCDateTime, association, utcnow

user_domains = association(
    "core_userprofile_domains", "core_userprofile", "userprofile_id", "core_domain", "domain_id"
)
user_groups = association(
    "core_userprofile_groups", "core_userprofile", "userprofile_id", "auth_group", "group_id"
)
user_permissions = association(
    "core_userprofile_permissions",
    "core_userprofile",
    "userprofile_id",
    "auth_permission",
    "permission_id",
)
group_permissions = association(
    "auth_group_permissions", "auth_group", "group_id", "auth_permission", "permission_id"
)


class Permission(Base):
    """One row per member of the registered permission enums (kept in sync at start-up)."""

    __tablename__ = "auth_permission"
    __table_args__ = (UniqueConstraint("content_type", "codename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    codename: Mapped[str] = mapped_column(String(100))

    @property
    def full_codename(self) -> str:
        return f"{self.content_type.split('.')[0]}.{self.codename}"


class Group(Base):
    __tablename__ = "auth_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)

    permissions: Mapped[list[Permission]] = relationship(secondary=group_permissions)


class UserProfile(Base):
    """An administrator account; one table instead of Django's auth_user + core_userprofile."""

    __tablename__ = "core_userprofile"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    date_joined: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    domain_preference_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_domain.id", ondelete="SET NULL"), index=True
    )
    scope_preference_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_scope.id", ondelete="SET NULL", use_alter=True), index=True
    )

    domains: Mapped[list[Domain]] = relationship(secondary=user_domains, back_populates="admins")
    domain_preference: Mapped[Domain | None] = relationship(foreign_keys=[domain_preference_id])
    scope_preference: Mapped[Scope | None] = relationship(foreign_keys=[scope_preference_id])
    groups: Mapped[list[Group]] = relationship(secondary=user_groups)
    user_permissions: Mapped[list[Permission]] = relationship(secondary=user_permissions)

    @property
    def is_view_all(self) -> bool:
        """Spec C.3: only the preferences restrict what a user sees, not groups or superuser."""
        return self.domain_preference_id is None and self.scope_preference_id is None


class ApiToken(Base):
    """A personal API token (``Authorization: Token <key>``); only its SHA-256 is stored."""

    __tablename__ = "core_apitoken"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_userprofile.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[UserProfile] = relationship()
