"""Schedules and schedule delays through the admin API."""

from __future__ import annotations

from sqlalchemy import select

from migasfree_pyramid.models import Schedule, ScheduleDelay

API = "/api/v1/token"
SEEDED = ["2 weeks (by MID)", "4 weeks (by MID)"]


def names(response):
    return [row["name"] for row in response.json["results"]]


# -- schedules ---------------------------------------------------------------------------------


def test_seeded_schedules_listed_with_delay_counts(client):
    listed = client.get(f"{API}/schedules/", as_="reader")
    assert listed.status_int == 200
    assert listed.json["count"] == 2
    first = listed.json["results"][0]
    assert set(first) == {"id", "name", "description", "delays_count"}
    assert [(r["name"], r["delays_count"]) for r in listed.json["results"]] == [
        (SEEDED[0], 1),
        (SEEDED[1], 1),
    ]


def test_schedule_crud(client, make):
    created = client.post(f"{API}/schedules/", {"name": "Slow", "description": "in steps"})
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {"id": pk, "name": "Slow", "description": "in steps", "delays_count": 0}
    detail = client.get(f"{API}/schedules/{pk}/")
    assert detail.json == created.json
    patched = client.patch(f"{API}/schedules/{pk}/", {"description": None})
    assert patched.status_int == 200
    assert patched.json["description"] is None and patched.json["name"] == "Slow"
    put = client.put(f"{API}/schedules/{pk}/", {"name": "Slower"})
    assert put.json["name"] == "Slower" and put.json["description"] is None
    attribute = make.attribute("ROL", "teacher")
    make.session.add(ScheduleDelay(schedule_id=pk, delay=3, duration=2, attributes=[attribute]))
    make.session.flush()
    assert client.get(f"{API}/schedules/{pk}/").json["delays_count"] == 1
    assert client.delete(f"{API}/schedules/{pk}/").status_int == 204
    assert client.get(f"{API}/schedules/{pk}/").status_int == 404
    # The delays went with the schedule.
    assert (
        make.session.scalars(select(ScheduleDelay).where(ScheduleDelay.schedule_id == pk)).all()
        == []
    )


def test_schedule_validation(client):
    missing = client.post(f"{API}/schedules/", {"description": "x"})
    assert missing.status_int == 400 and missing.json["errors"][0]["name"] == "name"
    blank = client.post(f"{API}/schedules/", {"name": ""})
    assert blank.status_int == 400
    duplicate = client.post(f"{API}/schedules/", {"name": SEEDED[0]})
    assert duplicate.status_int == 400
    assert duplicate.json["errors"][0]["name"] == "name"
    assert "already exists" in duplicate.json["errors"][0]["description"]
    assert client.post(f"{API}/schedules/", {"name": "x" * 51}).status_int == 400
    assert client.post(f"{API}/schedules/", {"name": ["a"]}).status_int == 400
    seeded = client.get(f"{API}/schedules/?name={SEEDED[0]}").json["results"][0]["id"]
    assert client.patch(f"{API}/schedules/{seeded}/", {"name": ""}).status_int == 400
    assert client.patch(f"{API}/schedules/{seeded}/", {"name": None}).status_int == 400
    assert client.get(f"{API}/schedules/999999/").status_int == 404
    assert client.patch(f"{API}/schedules/999999/", {"name": "z"}).status_int == 404


def test_schedule_delete_blocked_by_deployments(client, make):
    schedule = make.schedule(name="used", delays=[(0, 5, [make.all_systems()])])
    make.deployment(name="zeta", schedule=schedule)
    make.deployment(name="alpha", schedule=schedule)
    response = client.delete(f"{API}/schedules/{schedule.id}/")
    assert response.status_int == 409
    assert (
        response.json["errors"][0]["description"]
        == "The schedule is used by deployments: alpha, zeta"
    )
    assert client.get(f"{API}/schedules/{schedule.id}/").status_int == 200
    assert make.session.get(Schedule, schedule.id).delays[0].duration == 5
    unused = make.schedule(name="unused")
    assert client.delete(f"{API}/schedules/{unused.id}/").status_int == 204


def test_schedule_permissions(client, make):
    schedule = make.schedule()
    assert client.get(f"{API}/schedules/", as_="anonymous").status_int == 401
    assert client.get(f"{API}/schedules/", as_="nobody").status_int == 403
    assert client.get(f"{API}/schedules/{schedule.id}/", as_="reader").status_int == 200
    assert client.post(f"{API}/schedules/", {"name": "r"}, as_="reader").status_int == 403
    assert client.post(f"{API}/schedules/", {"name": "l"}, as_="liberator").status_int == 201
    url = f"{API}/schedules/{schedule.id}/"
    assert client.patch(url, {"name": "p"}, as_="packager").status_int == 403
    assert client.patch(url, {"name": "p"}, as_="liberator").status_int == 200
    assert client.delete(url, as_="configurator").status_int == 403
    assert client.delete(url, as_="liberator").status_int == 204


def test_schedule_filters_search_ordering_pagination(client, make):
    ids = [make.schedule(name=n).id for n in ("alpha", "beta", "gamma")]
    everyone = names(client.get(f"{API}/schedules/"))
    assert everyone == sorted(["alpha", "beta", "gamma", *SEEDED])
    assert names(client.get(f"{API}/schedules/?name=beta")) == ["beta"]
    assert names(client.get(f"{API}/schedules/?name__icontains=WEEK")) == SEEDED
    assert names(client.get(f"{API}/schedules/?id={ids[2]}")) == ["gamma"]
    assert names(client.get(f"{API}/schedules/?id__in={ids[0]},{ids[2]}")) == ["alpha", "gamma"]
    assert names(client.get(f"{API}/schedules/?search=ET")) == ["beta"]
    assert names(client.get(f"{API}/schedules/?ordering=-name")) == [
        "gamma",
        "beta",
        "alpha",
        *SEEDED[::-1],
    ]
    assert names(client.get(f"{API}/schedules/?ordering=-id"))[:3] == ["gamma", "beta", "alpha"]
    page = client.get(f"{API}/schedules/?page_size=2&page=3").json
    assert page["count"] == 5 and names_of(page) == ["gamma"]
    assert page["next"] is None and "page=2" in page["previous"]
    assert client.get(f"{API}/schedules/?ordering=delays").status_int == 400
    assert client.get(f"{API}/schedules/?id=x").status_int == 400
    filtered = client.post(f"{API}/schedules/filter/", {"id__in": ids[:2]})
    assert filtered.status_int == 200 and names_of(filtered.json) == ["alpha", "beta"]
    exported = client.get(f"{API}/schedules/export/?name=alpha")
    assert exported.content_type == "text/csv"
    assert exported.text.splitlines() == ["id,name,description,delays_count", f"{ids[0]},alpha,,0"]


def names_of(page):
    return [row["name"] for row in page["results"]]


def test_schedule_list_statement_count(client, make, statements):
    headers = client.headers(client.role("reader"))
    attribute = make.all_systems()
    with statements:
        client.app.get(f"{API}/schedules/", headers=headers)
    few = statements.count
    for _ in range(10):
        make.schedule(delays=[(0, 1, [attribute]), (2, 3, [attribute])])
    with statements:
        response = client.app.get(f"{API}/schedules/", headers=headers)
    assert statements.count == few
    assert response.json["count"] == 12
    assert {r["delays_count"] for r in response.json["results"]} == {1, 2}


# -- schedule delays ---------------------------------------------------------------------------


def test_schedule_delay_crud(client, make):
    schedule = make.schedule(name="steps")
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")
    body = {"schedule": schedule.id, "delay": 2, "attributes": [teacher.id, student.id]}
    created = client.post(f"{API}/schedule-delays/", body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json["delay"] == 2
    assert created.json["duration"] == 1
    assert created.json["schedule"] == {"id": schedule.id, "name": "steps"}
    assert [a["value"] for a in created.json["attributes"]] == ["student", "teacher"]
    assert created.json["attributes"][0]["property_att"]["prefix"] == "ROL"
    assert set(created.json["attributes"][0]) == {
        "id",
        "property_att",
        "value",
        "description",
        "latitude",
        "longitude",
    }
    assert client.get(f"{API}/schedule-delays/{pk}/").json == created.json
    patched = client.patch(f"{API}/schedule-delays/{pk}/", {"duration": 4})
    assert patched.json["duration"] == 4 and patched.json["delay"] == 2
    assert len(patched.json["attributes"]) == 2
    put = client.put(
        f"{API}/schedule-delays/{pk}/",
        {"schedule": schedule.id, "delay": 5, "duration": 2, "attributes": [teacher.id]},
    )
    assert put.status_int == 200
    assert (put.json["delay"], put.json["duration"]) == (5, 2)
    assert [a["id"] for a in put.json["attributes"]] == [teacher.id]
    assert client.delete(f"{API}/schedule-delays/{pk}/").status_int == 204
    assert client.get(f"{API}/schedule-delays/{pk}/").status_int == 404


def test_schedule_delay_validation(client, make):
    schedule = make.schedule(delays=[(0, 3, [])])
    url = f"{API}/schedule-delays/"
    for field in ("delay", "schedule"):
        body = {"schedule": schedule.id, "delay": 1}
        del body[field]
        response = client.post(url, body)
        assert response.status_int == 400 and response.json["errors"][0]["name"] == field
    cases = {
        "delay": [{"delay": -1}, {"delay": "abc"}, {"delay": 1.5}],
        "duration": [{"duration": 0}, {"duration": "x"}],
        "schedule": [{"schedule": 999999}, {"schedule": "s"}],
        "attributes": [{"attributes": [999999]}, {"attributes": "x"}, {"attributes": ["a"]}],
    }
    for field, bodies in cases.items():
        for extra in bodies:
            response = client.post(url, {"schedule": schedule.id, "delay": 7, **extra})
            assert response.status_int == 400, (field, extra, response.text)
            assert response.json["errors"][0]["name"] == field
    duplicate = client.post(url, {"schedule": schedule.id, "delay": 0})
    assert duplicate.status_int == 400
    assert duplicate.json["errors"][0]["name"] == "delay"
    assert "unique" in duplicate.json["errors"][0]["description"]
    other = client.post(url, {"schedule": schedule.id, "delay": 4}).json["id"]
    collide = client.patch(f"{url}{other}/", {"delay": 0})
    assert collide.status_int == 400
    # The same delay in another schedule is fine.
    assert client.post(url, {"schedule": make.schedule().id, "delay": 0}).status_int == 201
    assert client.get(f"{url}999999/").status_int == 404


def test_schedule_delay_permissions(client, make):
    schedule = make.schedule(delays=[(0, 1, [])])
    pk = schedule.delays[0].id
    url = f"{API}/schedule-delays/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(f"{url}{pk}/", as_="reader").status_int == 200
    body = {"schedule": schedule.id, "delay": 3}
    assert client.post(url, body, as_="reader").status_int == 403
    assert client.post(url, body, as_="domain-admin").status_int == 403
    assert client.post(url, body, as_="liberator").status_int == 201
    assert client.delete(f"{url}{pk}/", as_="packager").status_int == 403
    assert client.delete(f"{url}{pk}/", as_="liberator").status_int == 204


def test_schedule_delay_filters_and_ordering(client, make, dbsession):
    fast = make.schedule(name="fast", delays=[(3, 1, []), (0, 1, []), (1, 2, [])])
    slow = make.schedule(name="slow-rollout", delays=[(2, 1, [])])
    url = f"{API}/schedule-delays/"

    def delays(query):
        response = client.get(url + query)
        assert response.status_int == 200, response.text
        return [(r["schedule"]["name"], r["delay"]) for r in response.json["results"]]

    assert delays(f"?schedule__id={fast.id}") == [("fast", 0), ("fast", 1), ("fast", 3)]
    assert delays(f"?schedule__id={fast.id}&ordering=-delay") == [
        ("fast", 3),
        ("fast", 1),
        ("fast", 0),
    ]
    assert delays(f"?schedule__id__in={fast.id},{slow.id}&ordering=-duration,delay")[0] == (
        "fast",
        1,
    )
    assert delays("?schedule__name=slow-rollout") == [("slow-rollout", 2)]
    assert delays("?schedule__name__icontains=ROLL") == [("slow-rollout", 2)]
    everyone = client.get(url).json
    assert everyone["count"] == 6  # two seeded delays (delay 0) plus ours
    assert [r["delay"] for r in everyone["results"]] == [0, 0, 0, 1, 2, 3]
    assert client.get(url + "?schedule__id=x").status_int == 400
    assert client.get(url + "?ordering=attributes").status_int == 400
    assert client.get(url + "?page_size=4&page=2").json["results"][-1]["delay"] == 3
    # No CSV export for delays (as the original).
    assert client.get(url + "export/").status_int == 404
    filtered = client.post(url + "filter/", {"schedule__id": slow.id})
    assert filtered.json["count"] == 1


def test_schedule_delay_list_statement_count(client, make, statements):
    headers = client.headers(client.role("reader"))
    attributes = [make.attribute("ROL", f"r{i}") for i in range(3)]
    with statements:
        client.app.get(f"{API}/schedule-delays/", headers=headers)
    few = statements.count
    for _ in range(8):
        make.schedule(delays=[(0, 1, attributes), (1, 1, attributes[:1])])
    with statements:
        response = client.app.get(f"{API}/schedule-delays/", headers=headers)
    assert statements.count == few
    assert response.json["count"] == 18
