"""Package history (``packages-history/``) through the admin API."""

from __future__ import annotations

import datetime as dt

from migasfree_addons.clients.models import PackageHistory

API = "/api/v1/token"
JAN = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
MAR = dt.datetime(2024, 3, 10, tzinfo=dt.UTC)


def ids(response) -> list[int]:
    assert response.status_int == 200, response.text
    return [row["id"] for row in response.json["results"]]


def add(dbsession, **kw):
    row = PackageHistory(**kw)
    dbsession.add(row)
    dbsession.flush()
    return row


def test_list_detail_filters(client, make, dbsession):
    zed = make.computer(name="zed")
    amy = make.computer(name="amy")
    vim = make.package("vim", project=zed.project)
    bash = make.package("bash", project=amy.project)
    first = add(dbsession, computer_id=zed.id, package_id=vim.id, install_date=JAN)
    second = add(
        dbsession, computer_id=amy.id, package_id=vim.id, install_date=JAN, uninstall_date=MAR
    )
    third = add(dbsession, computer_id=amy.id, package_id=bash.id, install_date=MAR)
    listed = client.get(f"{API}/packages-history/", as_="reader")
    # Default ordering: computer name, then package fullname.
    assert ids(listed) == [third.id, second.id, first.id]
    assert listed.json["results"][2] == {
        "id": first.id,
        "install_date": JAN.isoformat(),
        "uninstall_date": None,
        "computer": {
            "id": zed.id,
            "__str__": f"CID-{zed.id}",
            "status": "assigned",
            "summary": f"assigned, {zed.project.name}, , ",
        },
        "package": {
            "id": vim.id,
            "fullname": vim.fullname,
            "project": {
                "id": zed.project.id,
                "name": zed.project.name,
                "slug": zed.project.slug,
                "pms": "apt",
                "architecture": "amd64",
            },
        },
    }
    assert client.get(f"{API}/packages-history/{first.id}/").json == listed.json["results"][2]
    url = f"{API}/packages-history/?"
    assert ids(client.get(url + f"computer__id={zed.id}")) == [first.id]
    assert ids(client.get(url + "computer__name__icontains=AM")) == [third.id, second.id]
    assert ids(client.get(url + f"package__id={bash.id}")) == [third.id]
    assert ids(client.get(url + "package__fullname__icontains=vim")) == [second.id, first.id]
    assert ids(client.get(url + f"package__fullname={bash.fullname}")) == [third.id]
    assert ids(client.get(url + f"package__project__id={zed.project_id}")) == [second.id, first.id]
    assert ids(client.get(url + "install_date__gte=2024-02-01")) == [third.id]
    assert ids(client.get(url + "install_date__lt=2024-02-01")) == [second.id, first.id]
    assert ids(client.get(url + "uninstall_date__isnull=false")) == [second.id]
    assert ids(client.get(url + "uninstall_date__gte=2024-03-01")) == [second.id]
    assert ids(client.get(url + f"id__in={first.id},{third.id}")) == [third.id, first.id]
    assert ids(client.get(url + "search=bash")) == [third.id]
    assert ids(client.get(url + "search=zed")) == [first.id]
    assert ids(client.get(url + "ordering=-id")) == [third.id, second.id, first.id]
    assert client.get(url + "uninstall_date__isnull=perhaps").status_int == 400
    export = client.get(f"{API}/packages-history/export/")
    assert export.text.splitlines()[0] == "id,install_date,uninstall_date,computer,package"


def test_read_only_and_permissions(client, make, dbsession):
    computer = make.computer()
    row = add(dbsession, computer_id=computer.id, package_id=make.package().id)
    url = f"{API}/packages-history/{row.id}/"
    assert client.post(f"{API}/packages-history/", {}).status_int == 405
    assert client.patch(url, {}).status_int == 405
    assert client.delete(url).status_int == 405
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(f"{API}/packages-history/999999/").status_int == 404


def test_list_statement_count_does_not_grow(client, make, dbsession, statements):
    headers = client.headers(client.role("reader"))

    def rows(count):
        for _ in range(count):
            computer = make.computer(sync_user=make.client_user())
            add(dbsession, computer_id=computer.id, package_id=make.package(store=make.store()).id)

    rows(2)
    with statements:
        client.app.get(f"{API}/packages-history/", headers=headers)
    few = statements.count
    rows(15)
    with statements:
        assert client.app.get(f"{API}/packages-history/", headers=headers).json["count"] == 17
    assert statements.count == few
