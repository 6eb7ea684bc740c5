import random

import pytest

from migasfree_pyramid.domain.graph import (
    CircularDependency,
    cyclic_nodes,
    find_cycle,
    partial_sort,
    sort_dependencies,
    strongly_connected_components,
)


def _assert_topological(graph, order):
    position = {node: i for i, node in enumerate(order)}
    for node, deps in graph.items():
        for dep in deps:
            assert position[dep] < position[node], (node, dep)


def test_empty_graph():
    assert sort_dependencies({}) == []
    assert find_cycle({}) is None


def test_dependencies_come_first():
    graph = {1: {2}, 2: {3}, 3: set()}
    assert sort_dependencies(graph) == [3, 2, 1]


def test_ties_are_broken_by_smallest_node():
    graph = {5: set(), 3: set(), 4: {3}, 1: {5}}
    assert sort_dependencies(graph) == [3, 4, 5, 1]


def test_order_does_not_depend_on_insertion_order():
    graph = {i: {j for j in range(i) if (i * j) % 3 == 1} for i in range(30)}
    expected = sort_dependencies(graph)
    items = list(graph.items())
    random.Random(4).shuffle(items)
    assert sort_dependencies(dict(items)) == expected
    _assert_topological(graph, expected)


def test_dependency_only_nodes_are_included():
    assert sort_dependencies({1: [9, 8]}) == [8, 9, 1]


def test_accepts_lists_as_dependencies():
    assert sort_dependencies({2: [1], 1: []}) == [1, 2]


def test_cycle_raises_naming_only_cycle_members():
    graph = {1: {2}, 2: {3}, 3: {1}, 4: {1}, 5: set()}
    with pytest.raises(CircularDependency) as info:
        sort_dependencies(graph)
    assert info.value.members == (1, 2, 3)
    assert info.value.blocked == (4,)
    assert "1, 2, 3" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_self_loop_is_a_cycle():
    with pytest.raises(CircularDependency) as info:
        sort_dependencies({1: {1}, 2: set()})
    assert info.value.members == (1,)


def test_node_between_two_cycles_is_blocked_not_member():
    # 1<->2 is a cycle, 3 depends on it, 4<->5 depends on 3.
    graph = {1: {2}, 2: {1}, 3: {1}, 4: {5, 3}, 5: {4}}
    with pytest.raises(CircularDependency) as info:
        sort_dependencies(graph)
    assert info.value.members == (1, 2, 4, 5)
    assert info.value.blocked == (3,)


def test_partial_sort_orders_the_acyclic_part():
    graph = {1: {2}, 2: {1}, 3: set(), 4: {3}, 6: {1}}
    order, unsorted = partial_sort(graph)
    assert order == [3, 4]
    assert unsorted == {1, 2, 6}


def test_find_cycle_returns_a_shortest_cycle_from_smallest_member():
    graph = {1: {2}, 2: {3, 1}, 3: {1}, 7: {7}}
    assert find_cycle(graph) == [1, 2]


def test_find_cycle_longer_cycle_and_self_loop():
    assert find_cycle({3: {4}, 4: {5}, 5: {3}, 9: set()}) == [3, 4, 5]
    assert find_cycle({8: {8}}) == [8]
    assert find_cycle({1: {2}, 2: {3}}) is None


def test_find_cycle_follows_dependency_direction():
    cycle = find_cycle({10: {30}, 30: {20}, 20: {10}})
    assert cycle == [10, 30, 20]


def test_strongly_connected_components_and_cyclic_nodes():
    graph = {1: {2}, 2: {1}, 3: {3}, 4: {1}}
    components = set(strongly_connected_components(graph))
    assert components == {frozenset({1, 2}), frozenset({3}), frozenset({4})}
    assert cyclic_nodes(graph) == {1, 2, 3}


def test_large_chain_is_not_recursive():
    n = 20_000
    graph = {i: {i - 1} for i in range(1, n)}
    assert sort_dependencies(graph) == list(range(n))
    graph[0] = {n - 1}
    with pytest.raises(CircularDependency) as info:
        sort_dependencies(graph)
    assert len(info.value.members) == n
