"""Dependency graphs: deterministic topological sort and cycle detection.

A graph is a mapping ``{node: {nodes it depends on}}``.  Nodes that only
appear as dependencies are treated as nodes without dependencies.  Nodes must
be hashable and mutually orderable (ints in practice): ordering ties are broken
by the smallest node so results never depend on dict or set iteration order.
Everything is linear (plus a log factor for the heap) in nodes + edges.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping


class CircularDependency(ValueError):
    """Raised when a graph has a cycle.

    ``members`` are the nodes lying on a cycle (sorted); ``blocked`` are the
    other nodes that could not be ordered because they depend, directly or
    not, on a cycle.  Subclasses ValueError like the original ``sort_depends``.
    """

    def __init__(self, members: Iterable[int], blocked: Iterable[int] = ()) -> None:
        self.members: tuple[int, ...] = tuple(sorted(set(members)))
        self.blocked: tuple[int, ...] = tuple(sorted(set(blocked) - set(self.members)))
        super().__init__(
            "Circular dependencies detected: " + ", ".join(str(m) for m in self.members)
        )


def _normalize(graph: Mapping[int, Iterable[int]]) -> dict[int, set[int]]:
    deps: dict[int, set[int]] = {node: set(targets) for node, targets in graph.items()}
    for targets in list(deps.values()):
        for target in targets:
            deps.setdefault(target, set())
    return deps


def _kahn(deps: dict[int, set[int]]) -> tuple[list[int], set[int]]:
    dependents: dict[int, list[int]] = {node: [] for node in deps}
    pending: dict[int, int] = {}
    for node, targets in deps.items():
        pending[node] = len(targets)
        for target in targets:
            dependents[target].append(node)
    ready = [node for node, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for dependent in dependents[node]:
            pending[dependent] -= 1
            if pending[dependent] == 0:
                heapq.heappush(ready, dependent)
    return order, {node for node, count in pending.items() if count > 0}


def partial_sort(graph: Mapping[int, Iterable[int]]) -> tuple[list[int], set[int]]:
    """Order what can be ordered, dependencies first.

    Returns ``(order, unsorted)`` where ``unsorted`` holds the nodes on a
    cycle plus every node that depends on one (they can never be released).
    """
    return _kahn(_normalize(graph))


def strongly_connected_components(graph: Mapping[int, Iterable[int]]) -> list[frozenset[int]]:
    """Strongly connected components (iterative Tarjan), dependencies first."""
    deps = _normalize(graph)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[frozenset[int]] = []

    def visit(node: int) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in sorted(deps):
        if root in index:
            continue
        visit(root)
        work = [(root, iter(sorted(deps[root])))]
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    visit(target)
                    work.append((target, iter(sorted(deps[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(frozenset(component))
    return components


def _cyclic_components(deps: dict[int, set[int]]) -> list[frozenset[int]]:
    return [
        component
        for component in strongly_connected_components(deps)
        if len(component) > 1 or next(iter(component)) in deps[next(iter(component))]
    ]


def cyclic_nodes(graph: Mapping[int, Iterable[int]]) -> frozenset[int]:
    """Every node lying on at least one cycle (self-loops included)."""
    deps = _normalize(graph)
    return frozenset().union(*_cyclic_components(deps))


def find_cycle(graph: Mapping[int, Iterable[int]]) -> list[int] | None:
    """Return one cycle as ``[a, b, ..., z]`` (a depends on b, ..., z on a), or None.

    Deterministic: starts from the smallest node lying on a cycle and returns
    a shortest cycle through it.
    """
    deps = _normalize(graph)
    components = _cyclic_components(deps)
    if not components:
        return None
    component = min(components, key=min)
    start = min(component)
    parents: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(deps[node]):
            if target == start:
                path: list[int] = []
                current: int | None = node
                while current is not None:
                    path.append(current)
                    current = parents[current]
                return path[::-1]
            if target in component and target not in parents:
                parents[target] = node
                queue.append(target)
    raise AssertionError("unreachable: a strongly connected component always closes")


def sort_dependencies(graph: Mapping[int, Iterable[int]]) -> list[int]:
    """Topological order of ``graph``, dependencies before their dependents.

    Among nodes ready at the same time the smallest comes first, so the order
    is deterministic.  Raises :class:`CircularDependency` naming the nodes on
    the cycle(s) when the graph is not acyclic.
    """
    deps = _normalize(graph)
    order, unsorted = _kahn(deps)
    if unsorted:
        sub = {node: deps[node] & unsorted for node in unsorted}
        members = frozenset().union(*_cyclic_components(sub))
        raise CircularDependency(members, unsorted)
    return order
