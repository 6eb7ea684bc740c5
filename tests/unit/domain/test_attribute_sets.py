import pytest

from migasfree_pyramid.domain.attribute_sets import (
    AttributeSetRule,
    check_no_cycle,
    evaluate_plan,
    evaluate_sets,
    plan_sets,
    set_dependencies,
)
from migasfree_pyramid.domain.graph import CircularDependency

ALL = 1  # All Systems attribute id

# Attribute ids: features 10..19; the SET-<name> attribute of set N is 100 + N.


def rule(set_id, included=(), excluded=(), enabled=True, attribute_id=None):
    return AttributeSetRule(
        set_id,
        100 + set_id if attribute_id is None else attribute_id,
        enabled,
        frozenset(included),
        frozenset(excluded),
    )


def test_rule_normalises_iterables_to_frozensets():
    r = AttributeSetRule(1, 101, True, [10, 10], {11})
    assert r.included == frozenset({10})
    assert isinstance(r.excluded, frozenset)
    assert AttributeSetRule(2, 102).included == frozenset()


def test_set_dependencies_through_included_and_excluded():
    sets = [rule(1, [10]), rule(2, [101]), rule(3, [10], [102]), rule(4, [101, 102])]
    assert set_dependencies(sets, ALL) == {1: set(), 2: {1}, 3: {2}, 4: {1, 2}}


def test_set_dependencies_ignore_all_systems_and_self_reference():
    # Set 9 is mirrored onto the All Systems attribute (a set named "All Systems").
    sets = [rule(9, [10], attribute_id=ALL), rule(1, [ALL, 101]), rule(2, [ALL], [99])]
    assert set_dependencies(sets, ALL) == {9: set(), 1: set(), 2: set()}


def test_simple_match_and_exclusion():
    sets = [rule(1, [10]), rule(2, [10], [11]), rule(3, [12])]
    assert evaluate_sets(sets, {10}, ALL) == [101, 102]
    assert evaluate_sets(sets, {10, 11}, ALL) == [101]  # excluded wins
    assert evaluate_sets(sets, set(), ALL) == []


def test_all_systems_include_matches_every_computer():
    assert evaluate_sets([rule(1, [ALL])], [ALL, 10], ALL) == [101]


def test_disabled_sets_never_match_and_do_not_feed_outer_sets():
    sets = [rule(1, [10], enabled=False), rule(2, [101]), rule(3, [10], [101])]
    assert evaluate_sets(sets, {10}, ALL) == [103]


def test_nested_sets_three_deep_inner_first():
    # 3 includes SET-2, 2 includes SET-1, 1 includes feature 10. Ids are
    # chosen so that id order is the *reverse* of evaluation order.
    sets = [rule(3, [102]), rule(2, [101]), rule(1, [10])]
    assert evaluate_sets(sets, {10}, ALL) == [101, 102, 103]
    assert evaluate_sets(sets, {11}, ALL) == []


def test_outer_set_excluding_an_inner_set():
    # 5 = "feature 10 but not in set 4"; 4 = feature 11.
    sets = [rule(5, [10], [104]), rule(4, [11])]
    assert evaluate_sets(sets, {10}, ALL) == [105]
    assert evaluate_sets(sets, {10, 11}, ALL) == [104]


def test_three_deep_with_exclusion_in_the_middle():
    sets = [rule(1, [10]), rule(2, [101], [12]), rule(3, [102, 13])]
    assert evaluate_sets(sets, {10}, ALL) == [101, 102, 103]
    assert evaluate_sets(sets, {10, 12}, ALL) == [101]
    assert evaluate_sets(sets, {13, 12}, ALL) == [103]


def test_sets_on_a_cycle_are_skipped_while_others_still_evaluate():
    sets = [
        rule(1, [10, 102]),  # 1 <-> 2 cycle
        rule(2, [10, 101]),
        rule(3, [10]),  # independent
        rule(4, [103]),  # depends on an independent set
        rule(5, [10, 101]),  # depends on the cycle: skipped too
    ]
    plan = plan_sets(sets, ALL)
    assert plan.skipped == {1, 2, 5}
    assert [r.id for r in plan.order] == [3, 4]
    assert evaluate_sets(sets, {10}, ALL) == [103, 104]


def test_cycle_through_a_disabled_set_is_harmless():
    sets = [rule(1, [10, 102]), rule(2, [101], enabled=False)]
    plan = plan_sets(sets, ALL)
    assert plan.skipped == frozenset()
    assert evaluate_plan(plan, {10}) == [101]


def test_plan_is_reusable_across_computers():
    plan = plan_sets([rule(1, [10]), rule(2, [101], [11])], ALL)
    assert evaluate_plan(plan, [10]) == [101, 102]
    assert evaluate_plan(plan, [10, 11]) == [101]
    assert evaluate_plan(plan, []) == []


def test_input_attributes_are_not_mutated():
    attrs = {10}
    evaluate_sets([rule(1, [10])], attrs, ALL)
    assert attrs == {10}


def test_check_no_cycle_accepts_acyclic_change():
    sets = [rule(1, [10]), rule(2, [101]), rule(3, [102])]
    check_no_cycle(sets, 3, [101, 102], None)  # no exception


def test_check_no_cycle_detects_new_cycle_with_members():
    sets = [rule(1, [10]), rule(2, [101]), rule(3, [102]), rule(4, [11])]
    with pytest.raises(CircularDependency) as info:
        check_no_cycle(sets, 1, [10], [103])
    assert info.value.members == (1, 2, 3)


def test_check_no_cycle_counts_disabled_sets():
    sets = [rule(1, [10]), rule(2, [101], enabled=False)]
    with pytest.raises(CircularDependency) as info:
        check_no_cycle(sets, 1, [102], None)
    assert info.value.members == (1, 2)


def test_check_no_cycle_ignores_self_reference_and_all_systems():
    sets = [rule(1, [10]), rule(9, [10], attribute_id=ALL)]
    check_no_cycle(sets, 1, [101, ALL], [ALL])


def test_check_no_cycle_none_keeps_current_lists():
    sets = [rule(1, [10], [102]), rule(2, [10])]
    with pytest.raises(CircularDependency):
        check_no_cycle(sets, 2, [101], None)  # 1 already excludes SET-2
    check_no_cycle(sets, 1, None, [])  # removing the exclusion is fine


def test_check_no_cycle_does_not_block_edits_outside_an_existing_cycle():
    sets = [rule(1, [102]), rule(2, [101]), rule(3, [10])]
    check_no_cycle(sets, 3, [11], None)
    with pytest.raises(CircularDependency):
        check_no_cycle(sets, 1, [102, 10], None)


def test_check_no_cycle_unknown_set():
    with pytest.raises(KeyError):
        check_no_cycle([rule(1)], 2, [], [])
