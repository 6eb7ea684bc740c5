"""How each admin resource's rows relate to a restricted user's view.

Every resource declares one rule (``Resource.scoping``); a resource without one fails at
start-up, so an addon cannot forget it. ``Unscoped`` must say why the rows are not
domain-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, false, select
from sqlalchemy.sql import Select

from .visibility import Visibility


class Scoping:
    def apply(self, request, query: Select, vis: Visibility) -> Select:
        raise NotImplementedError


@dataclass(frozen=True)
class Unscoped(Scoping):
    """The same for everyone who may read the resource (e.g. property definitions)."""

    reason: str

    def apply(self, request, query, vis):
        return query


@dataclass(frozen=True)
class Hidden(Scoping):
    """Restricted users see none of these rows (global data that would leak fleet details)."""

    reason: str

    def apply(self, request, query, vis):
        return query.where(false())


@dataclass(frozen=True)
class ByComputer(Scoping):
    """Rows of a visible computer (``column`` holds a computer id)."""

    column: object

    def apply(self, request, query, vis):
        return query.where(self.column.in_(vis.computers))


@dataclass(frozen=True)
class ByProject(Scoping):
    """Rows of a project that has visible computers."""

    column: object

    def apply(self, request, query, vis):
        return query.where(self.column.in_(vis.projects))


@dataclass(frozen=True)
class ByComputerAndProject(Scoping):
    """Events: of a visible computer, recorded in a visible project (spec C.4)."""

    computer: object
    project: object

    def apply(self, request, query, vis):
        return query.where(self.computer.in_(vis.computers), self.project.in_(vis.projects))


@dataclass(frozen=True)
class ByAttribute(Scoping):
    """Attributes: sync attributes of visible computers, or tags of the preferred domain."""

    column: object

    def apply(self, request, query, vis):
        return query.where(vis.attribute_condition(self.column))


@dataclass(frozen=True)
class ByLinkedAttribute(Scoping):
    """Rows linked (through ``link``) to at least one visible attribute: fault definitions,
    singularities, schedule delays... ``owner`` is the row's id, ``link_owner`` the link
    table's column pointing at it."""

    owner: object
    link_owner: object
    link_attribute: object

    def apply(self, request, query, vis):
        linked = select(self.link_owner).where(
            self.link_owner == self.owner, vis.attribute_condition(self.link_attribute)
        )
        return query.where(exists(linked))


@dataclass(frozen=True)
class Custom(Scoping):
    """Anything else: ``func(request, query, vis) -> query``."""

    func: Callable
    description: str = ""

    def apply(self, request, query, vis):
        return self.func(request, query, vis)
