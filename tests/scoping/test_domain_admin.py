"""A delegated domain administrator, tried the way a new user would: what they see, count,
export and change, inside and outside their domain (issue 5)."""

from __future__ import annotations

API = "/api/v1/token"


def ids(response):
    assert response.status_int == 200, response.text
    return sorted(row["id"] for row in response.json["results"])


def test_computers_are_those_of_the_domain(client, world):
    c, admin = world.computers, world.north_admin
    listed = client.get(f"{API}/computers/", as_=admin)
    # In repair is not productive, so not in view (spec C.3); the south ones are elsewhere.
    assert ids(listed) == sorted([c["n1"].id, c["n2"].id])
    assert listed.json["count"] == 2
    assert client.get(f"{API}/computers/{c['s1'].id}/", as_=admin).status_int == 404
    assert client.get(f"{API}/computers/{c['n_repair'].id}/", as_=admin).status_int == 404
    assert ids(client.get(f"{API}/computers/?id__in={c['s1'].id},{c['n1'].id}", as_=admin)) == [
        c["n1"].id
    ]
    filtered = client.post(f"{API}/computers/filter/", {"id__in": [c["s1"].id]}, as_=admin)
    assert filtered.json["count"] == 0
    exported = client.get(f"{API}/computers/export/", as_=admin).text
    assert "N1" in exported and "S1" not in exported and "SK" not in exported
    # Everyone else's view is untouched.
    assert len(ids(client.get(f"{API}/computers/?name__icontains=", as_="reader"))) >= 5


def test_what_derives_from_the_computers(client, world):
    c, admin, p = world.computers, world.north_admin, world.projects
    assert ids(client.get(f"{API}/projects/", as_=admin)) == [p["debian"].id]
    assert client.get(f"{API}/projects/{p['ubuntu'].id}/", as_=admin).status_int == 404
    assert ids(client.get(f"{API}/platforms/", as_=admin)) == [p["debian"].platform_id]
    errors = client.get(f"{API}/errors/", as_=admin)
    assert sorted(e["computer"]["id"] for e in errors.json["results"]) == sorted(
        [c["n1"].id, c["n2"].id]
    )
    assert client.get(f"{API}/errors/{world.errors['s1'].id}/", as_=admin).status_int == 404
    assert client.get(f"{API}/faults/", as_=admin).json["count"] == 2
    assert client.get(f"{API}/syncs/", as_=admin).json["count"] == 2
    assert client.get(f"{API}/status-logs/?computer__id={c['s1'].id}", as_=admin).json["count"] == 0
    # Global server events name computers of every domain: not for delegated admins.
    assert client.get(f"{API}/notifications/", as_=admin).json["count"] == 0
    assert ids(client.get(f"{API}/domains/", as_=admin)) == [world.domains["north"].id]
    assert ids(client.get(f"{API}/user-profiles/", as_=admin)) == [admin.id]


def test_attributes_and_counts(client, world):
    a, admin = world.attributes, world.north_admin
    visible = ids(client.get(f"{API}/attributes/?page_size=1000", as_=admin))
    assert a["north_ctr"].id in visible and a["teacher"].id in visible
    assert a["south_ctr"].id not in visible and a["secret"].id not in visible
    assert client.get(f"{API}/attributes/{a['secret'].id}/", as_=admin).status_int == 404
    # The domain's tag is usable even without a computer carrying it.
    tags = ids(client.get(f"{API}/tags/?page_size=1000", as_=admin))
    assert a["teacher"].id in tags and a["kiosk"].id not in tags
    everyone = client.get(f"{API}/features/{a['everyone'].id}/", as_=admin).json
    assert everyone["total_computers"] == 2  # N1 and N2, not the south computers
    assert (
        client.get(f"{API}/features/{a['everyone'].id}/", as_="admin").json["total_computers"] == 4
    )


def test_deployments_visible_and_nested_lists_pruned(client, world):
    d, a, admin = world.deployments, world.attributes, world.north_admin
    assert ids(client.get(f"{API}/deployments/", as_=admin)) == sorted(
        [d["global"].id, d["north"].id]
    )
    assert client.get(f"{API}/deployments/{d['south'].id}/", as_=admin).status_int == 404
    detail = client.get(f"{API}/deployments/{d['north'].id}/", as_=admin).json
    # The south-only attribute is part of the deployment but outside the view: pruned.
    assert [x["id"] for x in detail["included_attributes"]] == [a["north_ctr"].id]
    full = client.get(f"{API}/deployments/{d['north'].id}/", as_="admin").json
    assert len(full["included_attributes"]) == 2


def test_writes_stay_inside_the_domain(client, world):
    d, p, admin = world.deployments, world.projects, world.north_admin
    north, south = world.domains["north"], world.domains["south"]
    created = client.post(
        f"{API}/deployments/internal-sources/",
        {"project": p["debian"].id, "name": "printers"},
        as_=admin,
    )
    assert created.status_int == 201, created.text
    assert created.json["domain"] == {"id": north.id, "name": "NORTH"}
    assert created.json["name"] == "north_printers"
    foreign = client.post(
        f"{API}/deployments/",
        {"project": p["debian"].id, "name": "x", "domain": south.id},
        as_=admin,
    )
    assert foreign.status_int == 400 and foreign.json["errors"][0]["name"] == "domain"
    other_project = client.post(
        f"{API}/deployments/", {"project": p["ubuntu"].id, "name": "y"}, as_=admin
    )
    assert other_project.status_int == 400
    own = f"{API}/deployments/{d['north'].id}/"
    assert client.patch(own, {"comment": "ours"}, as_=admin).status_int == 200
    # The domain is forced: a single-domain admin's deployment stays in that domain.
    unset = client.patch(own, {"domain": None}, as_=admin)
    assert unset.status_int == 200 and unset.json["domain"]["id"] == north.id
    multi = world.multi_admin
    assert client.patch(own, {"domain": None}, as_=multi).status_int == 400
    assert (
        client.patch(f"{API}/deployments/{d['global'].id}/", {"comment": "x"}, as_=admin).status_int
        == 403
    )
    assert client.delete(f"{API}/deployments/{d['global'].id}/", as_=admin).status_int == 403
    assert client.delete(f"{API}/deployments/{d['south'].id}/", as_=admin).status_int == 404
    assert client.delete(own, as_=admin).status_int == 204


def test_preferences_only_among_own_domains(client, world):
    admin, north, south = world.multi_admin, world.domains["north"], world.domains["south"]
    url = f"{API}/user-profiles/{admin.id}/preferences/"
    # Without a preference a multi-domain admin sees both domains' computers.
    assert client.get(f"{API}/computers/", as_=admin).json["count"] == 3
    assert client.patch(url, {"domain_preference": north.id}, as_=admin).status_int == 200
    assert client.get(f"{API}/computers/", as_=admin).json["count"] == 2
    others = client.patch(url, {"domain_preference": 999999}, as_=admin)
    assert others.status_int == 400
    stranger = client.user("stranger-admin", groups=["Reader", "Domain Admin"])
    assert client.patch(url, {"domain_preference": south.id}, as_=stranger).status_int == 404
    mine = f"{API}/user-profiles/{stranger.id}/preferences/"
    assert client.patch(mine, {"domain_preference": south.id}, as_=stranger).status_int == 400


def test_a_domain_admin_without_domain_sees_nothing(client, world):
    lonely = client.user("lonely-admin", groups=["Reader", "Domain Admin"])
    assert client.get(f"{API}/computers/", as_=lonely).json["count"] == 0
    assert client.get(f"{API}/deployments/", as_=lonely).json["count"] == 0
    assert client.get(f"{API}/projects/", as_=lonely).json["count"] == 0


def test_scoping_statements_are_bounded(client, world, make, statements, dbsession):
    admin = world.north_admin
    headers = client.headers(admin)
    with statements:
        client.app.get(f"{API}/computers/", headers=headers)
    few = statements.count
    for i in range(20):
        make.computer(
            f"X{i}",
            project=world.projects["debian"],
            sync_attributes=[world.attributes["north_ctr"]],
        )
    dbsession.flush()
    with statements:
        client.app.get(f"{API}/computers/", headers=headers)
    assert statements.count == few
