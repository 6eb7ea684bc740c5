"""What a restricted administrator may see (spec C.3), as SQL subqueries, never as loaded rows.

A user is restricted when they have a domain or scope preference, or when they are a
non-superuser member of "Domain Admin" (then, without a preference, their view is the union of
the domains they administer; with no domain at all it is empty). The original let a domain
admin with no preference see everything (C.3): here delegated administrators never can.

The visible computers are the productive ones that belong to the domain(s) and the scope: a
computer belongs when one of its sync attributes is included and none is excluded. Everything
else derives from them: their sync attributes, their projects, the preferred domain's tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, exists, literal, or_, select
from sqlalchemy.sql import Select

from ..domain.status import PRODUCTIVE
from ..models import Computer
from ..models.computers import computer_sync_attributes as sync
from ..models.domains import (
    domain_excluded,
    domain_included,
    domain_tags,
    scope_excluded,
    scope_included,
)
from ..models.users import user_domains
from ..security.permissions import DOMAIN_ADMIN_GROUP


def _member(included, excluded, owner_col: str, owner) -> list:
    """Conditions on ``Computer.id``: an included attribute of ``owner``, no excluded one."""
    inc = (
        select(sync.c.computer_id)
        .join(included, included.c.attribute_id == sync.c.attribute_id)
        .where(included.c[owner_col] == owner, sync.c.computer_id == Computer.id)
    )
    exc = (
        select(sync.c.computer_id)
        .join(excluded, excluded.c.attribute_id == sync.c.attribute_id)
        .where(excluded.c[owner_col] == owner, sync.c.computer_id == Computer.id)
    )
    return [exists(inc), ~exists(exc)]


@dataclass
class Visibility:
    """The view of one restricted user. Each property is a subquery of ids."""

    user_id: int
    domain_ids: tuple[int, ...]  # the preferred domain, or all administered domains
    scope_id: int | None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def computers(self) -> Select:
        """Ids of the productive computers in the domain(s) and scope."""
        if "computers" not in self._cache:
            query = select(Computer.id).where(Computer.status.in_(sorted(PRODUCTIVE)))
            if self.domain_ids:
                # In any of the domains; membership is decided per domain (its own exclusions).
                query = query.where(
                    or_(
                        *(
                            and_(*_member(domain_included, domain_excluded, "domain_id", d))
                            for d in self.domain_ids
                        )
                    )
                )
            elif self.scope_id is None:
                query = query.where(literal(False))
            if self.scope_id is not None:
                query = query.where(
                    *_member(scope_included, scope_excluded, "scope_id", self.scope_id)
                )
            self._cache["computers"] = query
        return self._cache["computers"]

    @property
    def attributes(self) -> Select:
        """Ids of the sync attributes of the visible computers."""
        return select(sync.c.attribute_id).where(sync.c.computer_id.in_(self.computers)).distinct()

    @property
    def tags(self) -> Select:
        """Ids of the server attributes the domain(s) in view let their admins use."""
        return select(domain_tags.c.attribute_id).where(
            domain_tags.c.domain_id.in_(self.domain_ids)
        )

    @property
    def projects(self) -> Select:
        return select(Computer.project_id).where(Computer.id.in_(self.computers)).distinct()

    def attribute_condition(self, column):
        """``column`` (an attribute id) is visible: a sync attribute of a visible computer or a
        tag of the preferred domain."""
        return column.in_(self.attributes) | column.in_(self.tags)


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
    )
