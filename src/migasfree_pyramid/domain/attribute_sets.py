"""Attribute sets: nesting, evaluation order and cycle validation.

Every set is mirrored by an attribute ``SET-<name>``; a set may include or
exclude the mirror attribute of another set, so sets nest.  A set depends on
the sets whose mirror attributes it references and must be evaluated after
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from migasfree_pyramid.domain.attributes import ALL_SYSTEMS_ID
from migasfree_pyramid.domain.graph import (
    CircularDependency,
    partial_sort,
    strongly_connected_components,
)


@dataclass(frozen=True, slots=True)
class AttributeSetRule:
    """An attribute set as the rules see it.

    ``attribute_id`` is the id of its ``SET-<name>`` attribute.
    """

    id: int
    attribute_id: int
    enabled: bool = True
    included: frozenset[int] = field(default_factory=frozenset)
    excluded: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept any iterable from the loader but keep frozensets for O(1) tests.
        object.__setattr__(self, "included", frozenset(self.included))
        object.__setattr__(self, "excluded", frozenset(self.excluded))

    def matches(self, attributes: frozenset[int] | set[int]) -> bool:
        """Included hits the attributes and excluded does not."""
        return not self.included.isdisjoint(attributes) and self.excluded.isdisjoint(attributes)


@dataclass(frozen=True, slots=True)
class SetPlan:
    """Precomputed evaluation order of the enabled sets.

    ``order`` lists the enabled sets inner first; ``skipped`` holds the ids of
    enabled sets that cannot be evaluated (on a cycle or depending on one).
    The plan only depends on the sets, so the caller may compute it once and
    reuse it for every computer of a sync batch.
    """

    order: tuple[AttributeSetRule, ...]
    skipped: frozenset[int]


def set_dependencies(
    sets: Iterable[AttributeSetRule], all_systems_id: int = ALL_SYSTEMS_ID
) -> dict[int, set[int]]:
    """``{set id: ids of the sets it references}`` through included/excluded.

    References to the All Systems attribute are ignored (every computer has
    it; an AttributeSet mirrored onto it must not become everyone's
    dependency) and so are self-references.
    """
    sets = list(sets)
    set_by_attribute = {s.attribute_id: s.id for s in sets if s.attribute_id != all_systems_id}
    graph: dict[int, set[int]] = {}
    for rule in sets:
        refs = graph.setdefault(rule.id, set())
        for attribute_id in rule.included | rule.excluded:
            target = set_by_attribute.get(attribute_id)
            if target is not None and target != rule.id:
                refs.add(target)
    return graph


def plan_sets(sets: Iterable[AttributeSetRule], all_systems_id: int = ALL_SYSTEMS_ID) -> SetPlan:
    """Order the enabled sets for evaluation, skipping those caught in a cycle.

    Disabled sets never match, so they are left out before looking for
    cycles: a cycle passing through a disabled set is harmless.

    The original computes *no* set at all when the graph has a cycle.  We
    evaluate the acyclic part instead: one bad edit (cycles are rejected at
    edit time, but data can predate that check) should not silently strip
    every set from every computer at its next sync.  Sets on a cycle are
    skipped, and so are the sets that depend on them, because their result
    would be computed from an undetermined input (an outer set *excluding* a
    skipped set would wrongly match everyone).
    """
    enabled = {s.id: s for s in sets if s.enabled}
    order, unsorted = partial_sort(set_dependencies(enabled.values(), all_systems_id))
    return SetPlan(tuple(enabled[i] for i in order), frozenset(unsorted))


def evaluate_plan(plan: SetPlan, attributes: Iterable[int]) -> list[int]:
    """Mirror attribute ids of the sets of ``plan`` matched by ``attributes``.

    Each matched set's attribute joins the running attribute set so outer
    sets see it in the same pass.  Returned in evaluation order.
    """
    running = set(attributes)
    matched = []
    for rule in plan.order:
        if rule.matches(running):
            running.add(rule.attribute_id)
            matched.append(rule.attribute_id)
    return matched


def evaluate_sets(
    sets: Iterable[AttributeSetRule],
    attributes: Iterable[int],
    all_systems_id: int = ALL_SYSTEMS_ID,
) -> list[int]:
    """Attribute ids of the enabled sets a computer with ``attributes`` matches.

    Inner sets first; sets on a dependency cycle (and those depending on
    them) are skipped rather than raising, see :func:`plan_sets`.  A set
    matches when its included attributes intersect the running attributes and
    its excluded ones do not.
    """
    return evaluate_plan(plan_sets(sets, all_systems_id), attributes)


def check_no_cycle(
    sets: Iterable[AttributeSetRule],
    changed_set_id: int,
    new_included: Iterable[int] | None,
    new_excluded: Iterable[int] | None,
    all_systems_id: int = ALL_SYSTEMS_ID,
) -> None:
    """Edit-time validation: would this change put the set on a cycle?

    ``new_included`` / ``new_excluded`` are the complete new lists of the
    changed set (None keeps the current one).  All sets count, enabled or not,
    since a disabled set can be enabled later.  Raises
    :class:`CircularDependency` whose ``members`` are the ids of the sets on
    the cycle through the changed set; cycles elsewhere (legacy data) do not
    block unrelated edits.  Raises KeyError if the set is unknown.
    """
    current = {s.id: s for s in sets}
    old = current[changed_set_id]
    current[changed_set_id] = AttributeSetRule(
        old.id,
        old.attribute_id,
        old.enabled,
        old.included if new_included is None else frozenset(new_included),
        old.excluded if new_excluded is None else frozenset(new_excluded),
    )
    graph = set_dependencies(current.values(), all_systems_id)
    for component in strongly_connected_components(graph):
        # set_dependencies drops self-references, so only multi-set
        # components are cycles.
        if changed_set_id in component and len(component) > 1:
            raise CircularDependency(component)
