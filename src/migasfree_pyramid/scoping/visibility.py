"""What a restricted administrator may see (spec C.3), as SQL subqueries, never as loaded rows.

A user is restricted when they have a domain or scope preference, or when they are a
non-superuser member of "Domain Admin" (then, without a preference, their view is the union of
the domains they administer; with no domain at all it is empty). The original let a domain
admin with no preference see everything (C.3): here delegated administrators never can.

The visible computers are the productive ones that belong to the domain(s) and the scope: a
computer belongs when one of its sync attributes is included and none is excluded
(``core_domain_computers`` and ``core_scope_computers``, kept by the database). Everything else
derives from them: their sync attributes, their projects, the preferred domain's tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import exists, false, literal, select, union_all
from sqlalchemy.sql import Select

from ..domain.status import PRODUCTIVE_ORDERED
from ..models import Computer
from ..models.computers import computer_sync_attributes as sync
from ..models.domains import (
    domain_attributes,
    domain_computers,
    domain_tags,
    scope_computers,
)
from ..models.users import user_domains
from ..security.permissions import DOMAIN_ADMIN_GROUP

# Inline literals (not bound parameters), so that PostgreSQL matches the condition with the
# partial index ``ix_client_computer_unproductive`` even in a prepared statement's generic plan.
PRODUCTIVE_LITERALS = [literal(status, literal_execute=True) for status in PRODUCTIVE_ORDERED]


def unproductive_computers() -> Select:
    """Ids of the computers out of production.

    Productivity is checked as "not one of these": they are few and come from a small partial
    index, where checking "productive" reads (or hashes) nearly the whole computer table.
    """
    other = Computer.__table__.alias("unproductive")
    return select(other.c.id).where(other.c.status.not_in(PRODUCTIVE_LITERALS))


@dataclass
class Visibility:
    """The view of one restricted user. Each property is a subquery of ids."""

    user_id: int
    domain_ids: tuple[int, ...]  # the preferred domain, or all administered domains
    scope_id: int | None
    session: object = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def computers(self):
        """Ids of the productive computers in the domain(s) and scope."""
        if "computers" not in self._cache:
            self._cache["computers"] = self._computers()
        return self._cache["computers"]

    def _computers(self):
        # Membership is kept by the database (migration 0004), so this is an index range of
        # the domain, whatever the size of the fleet or of the domain's rule.
        in_scope = select(scope_computers.c.computer_id).where(
            scope_computers.c.scope_id == self.scope_id
        )
        if self.domain_ids:
            members = select(domain_computers.c.computer_id).where(
                domain_computers.c.domain_id.in_(self.domain_ids)
            )
            if len(self.domain_ids) > 1:
                members = members.distinct()
            if self.scope_id is not None:
                members = members.where(domain_computers.c.computer_id.in_(in_scope))
            return members
        if self.scope_id is not None:
            return in_scope
        return select(Computer.id).where(false())

    @property
    def attributes(self) -> Select:
        """Ids of the sync attributes of the visible computers."""
        return select(sync.c.attribute_id).where(sync.c.computer_id.in_(self.computers))

    @property
    def _whole_domains(self) -> bool:
        """The view is whole domains (no scope narrows them): what their admins see of the
        attributes is kept by the database (``core_domain_attributes``, migration 0005)."""
        return bool(self.domain_ids) and self.scope_id is None

    @property
    def tags(self) -> Select:
        """Ids of the server attributes the domain(s) in view let their admins use."""
        return select(domain_tags.c.attribute_id).where(
            domain_tags.c.domain_id.in_(self.domain_ids)
        )

    @property
    def projects(self) -> tuple[int, ...]:
        """Ids of the projects with visible computers.

        Read once per request (one statement) and handed to later statements as constants:
        a handful of ids, whatever the size of the fleet. As a subquery it was computed again
        by every statement that used it (a list's count and its page), and PostgreSQL, unable
        to guess how few projects come out, planned the statements around it badly.
        """
        if "projects" not in self._cache:
            query = select(Computer.project_id).where(Computer.id.in_(self.computers)).distinct()
            # No autoflush: scoping runs while a write is half applied (related rows loaded
            # through scoped queries), and must not flush it early.
            with self.session.no_autoflush:
                self._cache["projects"] = tuple(self.session.scalars(query))
        return self._cache["projects"]

    def attribute_condition(self, column):
        """``column`` (an attribute id) is visible: a sync attribute of a visible computer or a
        tag of the domain(s). For lists over the whole attribute table: one IN over the set of
        visible attributes (for whole domains, an index range of ``core_domain_attributes``,
        which PostgreSQL has statistics of)."""
        if self._whole_domains:
            return column.in_(
                select(domain_attributes.c.attribute_id).where(
                    domain_attributes.c.domain_id.in_(self.domain_ids)
                )
            )
        return column.in_(union_all(self.attributes, self.tags))

    def attribute_check(self, column):
        """The same condition, checked row by row: for a few attributes (the nested lists of
        a page, which ``prune`` filters) looking at each one costs far less than building the
        set of every attribute of every visible computer."""
        if self._whole_domains:
            kept = domain_attributes.alias()
            return exists(
                select(kept.c.attribute_id).where(
                    kept.c.attribute_id == column, kept.c.domain_id.in_(self.domain_ids)
                )
            )
        link = sync.alias()
        synced = exists(
            select(link.c.attribute_id).where(
                link.c.attribute_id == column, link.c.computer_id.in_(self.computers)
            )
        )
        return synced | column.in_(self.tags)


def compute(request) -> Visibility | None:
    """The caller's visibility, or None when they see everything (superusers without
    preferences, agents, and everyone the spec calls view-all)."""
    identity = request.identity
    user = getattr(identity, "user", None)
    if user is None:
        return None
    domain_admin = not user.is_superuser and DOMAIN_ADMIN_GROUP in getattr(identity, "groups", ())
    if user.domain_preference_id is None and user.scope_preference_id is None and not domain_admin:
        return None
    if user.domain_preference_id is not None:
        domain_ids: tuple[int, ...] = (user.domain_preference_id,)
    elif domain_admin:
        domain_ids = tuple(
            request.dbsession.scalars(
                select(user_domains.c.domain_id).where(user_domains.c.userprofile_id == user.id)
            )
        )
    else:
        domain_ids = ()
    return Visibility(
        user_id=user.id,
        domain_ids=domain_ids,
        scope_id=user.scope_preference_id,
        session=request.dbsession,
    )
