"""The indexed route mapper answers exactly as Pyramid's own, for every route of the app."""

from __future__ import annotations

import re

import pytest
from pyramid.interfaces import IRoutesMapper
from pyramid.testing import DummyRequest
from pyramid.urldispatch import RoutesMapper

from migasfree_pyramid.routing import IndexedRoutesMapper


def sample_paths(routes) -> list[str]:
    """Each pattern with its placeholders filled in two ways, and near misses of it."""
    paths = {"/", "", "/api/", "/api/v1/", "/nowhere/", "/api/v1/safe/nowhere/"}
    for route in routes:
        pattern = route.pattern if route.pattern.startswith("/") else "/" + route.pattern
        for filler in ("1", "abc"):
            path = re.sub(r"\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", filler, pattern)
            path = re.sub(r"\*\w*$", "a/b", path)
            paths.update({path, path.rstrip("/"), path + "x/", path + "/"})
    return sorted(paths)


def test_the_app_uses_the_indexed_mapper(registry):
    assert isinstance(registry.getUtility(IRoutesMapper), IndexedRoutesMapper)


def test_same_answer_as_pyramid_for_every_route(registry):
    indexed = registry.getUtility(IRoutesMapper)
    plain = RoutesMapper()
    plain.routelist = indexed.routelist
    paths = sample_paths(indexed.routelist)
    assert len(paths) > 500
    for path in paths:
        request = DummyRequest(path=path)
        request.path_info = path
        for method in ("GET", "POST"):
            request.method = method
            expected, found = plain(request), indexed(request)
            assert found["route"] is expected["route"], path
            assert found["match"] == expected["match"], path


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        # A placeholder route added earlier wins over a literal one added later, as in Pyramid.
        (["/api/v1/token/{model}/", "/api/v1/token/computers/"], "/api/v1/token/computers/", 0),
        (["/api/v1/token/computers/", "/api/v1/token/{model}/"], "/api/v1/token/computers/", 0),
        (["/a/", "/a/b/c/d/e/{x}/", "/{any}/"], "/a/", 0),
        (["/a/b/c/d/e/", "*subpath"], "/a/b/c/d/e/", 0),
        (["*subpath", "/a/b/c/d/e/"], "/a/b/c/d/e/", 0),
        (["/a/b/c/d/e/", "/a/b/c/d/{x}/"], "/a/b/c/d/z/", 1),
        (["/short"], "/short/", None),
    ],
)
def test_order_is_kept(patterns, path, expected):
    mapper = IndexedRoutesMapper()
    for number, pattern in enumerate(patterns):
        mapper.connect(str(number), pattern)
    request = DummyRequest(path=path)
    request.path_info = path
    route = mapper(request)["route"]
    assert (route.name if route else None) == (None if expected is None else str(expected))


def test_routes_added_later_are_found():
    mapper = IndexedRoutesMapper()
    mapper.connect("a", "/a/")
    request = DummyRequest(path="/b/")
    request.path_info = "/b/"
    assert mapper(request)["route"] is None
    mapper.connect("b", "/b/")
    assert mapper(request)["route"].name == "b"
