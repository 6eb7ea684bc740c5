"""Estimated counts of the unbounded event logs (api/pagination.py): only for the whole log as
an unrestricted caller sees it, only above ``migasfree.exact_count_limit``, and said in the
``X-Count-Estimated`` header; every other list keeps its exact count."""

from __future__ import annotations

import pytest

from migasfree_addons.clients.models import Synchronization
from migasfree_pyramid.api.pagination import ESTIMATED_HEADER, estimated_rows

API = "/api/v1/token"


@pytest.fixture
def syncs(make, dbsession):
    computer = make.computer()
    rows = [Synchronization(computer_id=computer.id) for _ in range(3)]
    dbsession.add_all(rows)
    dbsession.flush()
    return computer, rows


@pytest.fixture
def limit(registry, monkeypatch):
    """A limit of 1 row: the planner's estimate of any table is above it."""

    def set_limit(value):
        monkeypatch.setitem(registry.settings, "migasfree.exact_count_limit", value)

    set_limit(1)
    return set_limit


def test_the_whole_log_answers_the_planner_estimate(client, syncs, limit, dbsession):
    response = client.get(f"{API}/syncs/")
    assert response.headers[ESTIMATED_HEADER] == "true"
    assert response.json["count"] >= 1  # the planner's figure, not a count of the rows
    assert {row["id"] for row in response.json["results"]} >= {s.id for s in syncs[1]}
    assert response.json["next"] is None  # the page was not full: this is the last one


def test_pages_of_an_estimated_list_are_found_by_reading_them(client, syncs, limit):
    first = client.get(f"{API}/syncs/?page_size=2")
    assert first.headers[ESTIMATED_HEADER] == "true"
    assert len(first.json["results"]) == 2 and first.json["next"].endswith("page=2")
    last = client.get(f"{API}/syncs/?page_size=2&page=2")
    assert len(last.json["results"]) == 1 and last.json["next"] is None
    assert last.json["previous"] is not None
    beyond = client.get(f"{API}/syncs/?page_size=2&page=9", status=404)
    assert beyond.json["errors"][0]["description"] == "Invalid page."


def test_filtered_searched_and_small_lists_count_exactly(client, syncs, limit):
    computer, _ = syncs
    for query in (f"computer__id={computer.id}", f"search={computer.name}"):
        response = client.get(f"{API}/syncs/?{query}")
        assert ESTIMATED_HEADER not in response.headers
        assert response.json["count"] == 3
    limit(0)  # estimates switched off
    response = client.get(f"{API}/syncs/")
    assert ESTIMATED_HEADER not in response.headers
    limit(10**9)  # above what the planner expects
    assert ESTIMATED_HEADER not in client.get(f"{API}/syncs/").headers


def test_restricted_callers_always_count_exactly(client, syncs, limit, make):
    computer, _ = syncs
    admin = client.role("domain-admin")
    attribute = make.attribute()
    computer.sync_attributes.append(attribute)
    admin.domains.append(make.domain(included=[attribute]))
    response = client.get(f"{API}/syncs/", as_=admin)
    assert ESTIMATED_HEADER not in response.headers
    assert response.json["count"] == 3


def test_lists_that_are_not_event_logs_count_exactly(client, make, limit):
    make.computer()
    response = client.get(f"{API}/computers/")
    assert ESTIMATED_HEADER not in response.headers
    assert response.json["count"] == 1


def test_the_estimate_is_the_planners(dbsession, syncs):
    from sqlalchemy import select

    estimate = estimated_rows(dbsession, select(Synchronization))
    assert isinstance(estimate, int) and estimate >= 0
