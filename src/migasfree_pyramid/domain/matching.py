"""Attribute matching: domains, deployments, schedules and their timelines."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

DOMAIN_PREFIX = "DMN"


def _as_set(attributes: Iterable[int]) -> frozenset[int] | set[int]:
    return attributes if isinstance(attributes, set | frozenset) else frozenset(attributes)


def matches(included: Iterable[int], excluded: Iterable[int], attributes: Iterable[int]) -> bool:
    """The rule used everywhere: any included attribute present, no excluded one."""
    attrs = _as_set(attributes)
    return not attrs.isdisjoint(included) and attrs.isdisjoint(excluded)


@dataclass(frozen=True, slots=True)
class DomainRule:
    """A domain's membership rule (its included list always holds ``DMN-<name>``)."""

    id: int
    name: str
    included: frozenset[int] = field(default_factory=frozenset)
    excluded: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "included", frozenset(self.included))
        object.__setattr__(self, "excluded", frozenset(self.excluded))


def matching_domains(domains: Iterable[DomainRule], attributes: Iterable[int]) -> list[DomainRule]:
    """Domains whose rule ``attributes`` match, in input order."""
    attrs = _as_set(attributes)
    return [d for d in domains if matches(d.included, d.excluded, attrs)]


def normalize_domain_name(name: str) -> str:
    """Domain names are stored as ``slugify(name).upper()`` (Django slugify rules).

    ASCII-fold, drop everything but word characters, spaces and dashes,
    collapse runs of spaces/dashes into one dash, trim dashes/underscores.
    Idempotent.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text.lower())
    return re.sub(r"[-\s]+", "-", text).strip("-_").upper()


def domain_tag_value(domain_name: str) -> str:
    """Value of the domain's ``DMN`` attribute: its normalised name."""
    return normalize_domain_name(domain_name)


def domain_of_tag(value: str) -> str:
    """Domain named by a ``DMN`` tag value: ``"SALES.MADRID"`` -> ``"SALES"``."""
    return value.split(".", 1)[0]


def is_domain_tag_value(domain_name: str, value: str) -> bool:
    """Whether a ``DMN`` value belongs to the domain (itself or ``<NAME>.<sub>``)."""
    return value == domain_name or value.startswith(domain_name + ".")


def time_horizon(start: date, delay: int) -> date:
    """``start`` plus ``delay`` working days (weekends skipped).

    Same formula as the original: with Mon=0, ``delta = delay + ((delay +
    weekday) // 5) * 2`` calendar days.  It assumes a weekday start; a
    Saturday start with delay 0 lands on Monday, a Sunday one on Tuesday.
    """
    delta = delay + ((delay + start.weekday()) // 5) * 2
    return start + timedelta(days=delta)


@dataclass(frozen=True, slots=True)
class DelayRule:
    """One ``ScheduleDelay``: opens ``delay`` working days after the start,
    spread over ``duration`` daily waves, for computers having ``attributes``."""

    delay: int
    duration: int
    attributes: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", frozenset(self.attributes))


@dataclass(frozen=True, slots=True)
class DeploymentRule:
    """What availability needs from a deployment; ``delays`` empty = no schedule."""

    id: int
    name: str
    project_id: int
    enabled: bool
    domain: DomainRule | None
    included: frozenset[int]
    excluded: frozenset[int]
    start_date: date
    delays: tuple[DelayRule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "included", frozenset(self.included))
        object.__setattr__(self, "excluded", frozenset(self.excluded))
        object.__setattr__(self, "delays", tuple(self.delays))


def _wave(computer_id: int, duration: int) -> int:
    # duration has a min-1 validator; guard anyway so bad rows cannot crash a sync.
    return computer_id % max(duration, 1)


def is_available(
    dep: DeploymentRule,
    computer_id: int,
    project_id: int,
    attributes: Iterable[int],
    today: date,
) -> bool:
    """Whether a computer receives the deployment today (spec B.5).

    Base filter: same project, enabled, domain gate (no domain, or the
    computer matches it), no excluded attribute.  Then either *direct* (an
    included attribute and ``start_date <= today``) or *scheduled*: for some
    delay whose attributes hit, wave ``k = computer_id % duration`` is open,
    i.e. ``time_horizon(start_date, delay + k) <= today``.
    """
    attrs = _as_set(attributes)
    if dep.project_id != project_id or not dep.enabled:
        return False
    if dep.domain is not None and not matches(dep.domain.included, dep.domain.excluded, attrs):
        return False
    if not attrs.isdisjoint(dep.excluded):
        return False
    if dep.start_date <= today and not attrs.isdisjoint(dep.included):
        return True
    return any(
        not attrs.isdisjoint(delay.attributes)
        and time_horizon(dep.start_date, delay.delay + _wave(computer_id, delay.duration)) <= today
        for delay in dep.delays
    )


def available_deployments(
    deps: Iterable[DeploymentRule],
    computer_id: int,
    project_id: int,
    attributes: Iterable[int],
    today: date,
) -> list[DeploymentRule]:
    """Deployments available to the computer, ordered by name (then id)."""
    attrs = _as_set(attributes)
    found = [d for d in deps if is_available(d, computer_id, project_id, attrs, today)]
    return sorted(found, key=lambda d: (d.name, d.id))


def open_waves(start_date: date, delay: DelayRule, today: date) -> int:
    """How many waves of ``delay`` are open today (0 .. duration).

    Computers with ``id % duration < open_waves(...)`` are released; handy
    for the admin "computers of a deployment" query.
    """
    duration = max(delay.duration, 1)
    count = 0
    while count < duration and time_horizon(start_date, delay.delay + count) <= today:
        count += 1
    return count


def schedule_timeline(
    start_date: date, delays: Sequence[DelayRule], today: date
) -> dict[str, str | float] | None:
    """Rollout window of a scheduled deployment, or None without delays.

    ``begin_date`` = first delay opens, ``end_date`` = ``time_horizon(start,
    last delay + its duration)``; ``percent`` of elapsed calendar days,
    clamped to 0-100 (100 when the span is not positive).  Dates in ISO form.
    """
    if not delays:
        return None
    ordered = sorted(delays, key=lambda d: d.delay)
    begin = time_horizon(start_date, ordered[0].delay)
    end = time_horizon(start_date, ordered[-1].delay + ordered[-1].duration)
    span = (end - begin).days
    elapsed = (today - begin).days
    percent = 100.0 if span <= 0 else min(max(elapsed / span * 100, 0.0), 100.0)
    return {"begin_date": begin.isoformat(), "end_date": end.isoformat(), "percent": percent}


def auto_restart_date(start_date: date, delays: Sequence[DelayRule], today: date) -> date | None:
    """New start date for an ``auto_restart`` deployment whose rollout ended, else None.

    Uses the delay with the highest ``delay``; the rollout ends on
    ``end = time_horizon(start, delay + duration)`` and, once ``today >= end``,
    restarts on the next working day after ``end``.

    Quirk 13 fixed: the original counts plain calendar days here while
    availability and the timeline count working days, so it restarted before
    the last waves had opened; we use ``time_horizon`` consistently.
    """
    if not delays:
        return None
    last = max(delays, key=lambda d: d.delay)
    end = time_horizon(start_date, last.delay + last.duration)
    if today < end:
        return None
    return time_horizon(end, 1)
