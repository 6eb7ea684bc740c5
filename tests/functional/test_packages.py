"""Packages (uploads, files in stores) and package sets through the admin API."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from migasfree_pyramid.core_api.package_files import write_atomic
from migasfree_pyramid.core_api.packages import PackagesChanged
from migasfree_pyramid.models import Package, PackageSet, Store

API = "/api/v1/token"
DEB = "acme-tools_1.2-3_all.deb"


@pytest.fixture
def events(registry):
    """The PackagesChanged events notified during the test."""
    seen = []

    def handler(event):
        seen.append(event)

    registry.registerHandler(handler, (PackagesChanged,))
    yield seen
    registry.unregisterHandler(handler, (PackagesChanged,))


@pytest.fixture
def project(make):
    return make.project("debian-12")


@pytest.fixture
def store(make, project):
    return make.store("Main Store", project)


def public(registry, *parts) -> str:
    return os.path.join(registry.settings["migasfree.public_dir"], *parts)


def stored(registry, package_or_store, fullname=None) -> str:
    """Path of a package's file, or of ``fullname`` in a store."""
    store = package_or_store if isinstance(package_or_store, Store) else package_or_store.store
    name = fullname or package_or_store.fullname
    return public(registry, store.project.slug, "stores", store.slug, name)


def read(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def put_file(registry, package, content=b"payload"):
    path = stored(registry, package)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content)
    return path


def upload(client, store_id, files=((DEB, b"bytes"),), as_="packager", url=None, **params):
    """A multipart POST of ``files`` (name, bytes) and ``store`` (None leaves it out)."""
    if store_id is not None:
        params["store"] = str(store_id)
    return client.app.post(
        url or f"{API}/packages/",
        params=params,
        upload_files=[("files", name, content) for name, content in files],
        headers=client.headers(client.role(as_)),
        status="*",
    )


def error(response) -> tuple[str, str]:
    entry = response.json["errors"][0]
    return entry["name"], entry["description"]


def run_after_commit_hooks(tm):
    for hook, args, kwargs in tm.get().getAfterCommitHooks():
        hook(True, *args, **kwargs)


# -- packages: upload --------------------------------------------------------------------------


def test_upload_stores_file_and_row(client, registry, project, store, events):
    created = upload(client, store.id, [(DEB, b"deb-bytes")])
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "fullname": DEB,
        "name": "acme-tools",
        "version": "1.2-3",
        "architecture": "all",
        "project": {"id": project.id, "name": "debian-12"},
        "store": {"id": store.id, "name": "Main Store"},
        "url": f"/pub/debian-12/stores/main-store/{DEB}",
    }
    path = stored(registry, store, DEB)
    assert read(path) == b"deb-bytes"
    assert os.listdir(os.path.dirname(path)) == [DEB]  # no temporary file left behind
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [(e.project_id, e.package_ids) for e in events] == [(project.id, (pk,))]


def test_upload_uses_first_file_and_public_url_setting(client, registry, store, monkeypatch):
    monkeypatch.setitem(registry.settings, "migasfree.public_url", "https://repo.example/files")
    files = [("b_2.0_all.deb", b"b"), ("c_3.0_all.deb", b"c")]
    created = upload(client, store.id, files)
    assert created.status_int == 201
    assert created.json["fullname"] == "b_2.0_all.deb"
    assert (
        created.json["url"]
        == "https://repo.example/files/debian-12/stores/main-store/b_2.0_all.deb"
    )
    assert not os.path.exists(stored(registry, store, "c_3.0_all.deb"))


@pytest.mark.parametrize(
    "filename",
    ["../evil_1.0_all.deb", "a/b_1.0_all.deb", "..\\evil_1.0_all.deb", ".evil_1.0_all.deb"],
)
def test_upload_rejects_unsafe_names(client, registry, store, filename):
    response = upload(client, store.id, [(filename, b"evil")])
    assert response.status_int == 400
    name, description = error(response)
    assert name == "files" and "Invalid file name" in description
    assert not os.path.exists(public(registry))  # nothing written anywhere


def test_upload_rejects_long_names_and_bad_formats(client, registry, store):
    too_long = upload(client, store.id, [("a" * 267 + ".deb", b"x")])
    assert too_long.status_int == 400 and "at most 270" in error(too_long)[1]
    nameless = upload(client, store.id, [("_1.0_all.deb", b"x")])
    assert error(nameless) == ("files", "Package _1.0_all.deb has an incorrect name format")
    long_version = upload(client, store.id, [("pkg_1" + "0" * 60 + "_all.deb", b"x")])
    assert long_version.status_int == 400 and "incorrect name format" in error(long_version)[1]
    empty = upload(client, store.id, [(DEB, b"")])
    assert empty.status_int == 400 and "empty" in error(empty)[1]
    assert not os.path.exists(public(registry))


def test_duplicate_upload_keeps_the_first_file(client, registry, store, dbsession):
    assert upload(client, store.id, [(DEB, b"first")]).status_int == 201
    again = upload(client, store.id, [(DEB, b"second")])
    assert again.status_int == 400
    assert error(again) == ("files", "Package already exists")
    other_store = Store(name="Other", slug="other", project=store.project)
    dbsession.add(other_store)
    dbsession.flush()
    elsewhere = upload(client, other_store.id, [(DEB, b"third")])
    assert error(elsewhere) == ("files", "Package already exists")
    assert read(stored(registry, store, DEB)) == b"first"
    assert not os.path.exists(stored(registry, other_store, DEB))


def test_upload_into_another_projects_store_does_not_clobber(client, registry, make, store):
    assert upload(client, store.id, [(DEB, b"debian")]).status_int == 201
    other = make.store("Main Store", make.project("ubuntu-24"))
    created = upload(client, other.id, [(DEB, b"ubuntu")])
    assert created.status_int == 201
    assert created.json["project"]["name"] == "ubuntu-24"
    assert read(stored(registry, store, DEB)) == b"debian"
    assert read(stored(registry, other, DEB)) == b"ubuntu"


def test_upload_attaches_inventory_package(client, registry, make, project, store, dbsession):
    known = make.package("acme-tools", "1.2-3", "all", project=project)
    assert known.store is None
    created = upload(client, store.id, [(DEB, b"now stored")])
    assert created.status_int == 201
    assert created.json["id"] == known.id
    dbsession.refresh(known)
    assert known.store_id == store.id
    assert read(stored(registry, known)) == b"now stored"


def test_upload_bad_requests(client, store):
    headers = client.headers(client.role("packager"))
    no_file = client.app.post(
        f"{API}/packages/", params={"store": str(store.id)}, headers=headers, status="*"
    )
    assert no_file.status_int == 400  # url-encoded: not an upload at all
    assert error(no_file)[0] == "files"
    no_file = client.app.post(
        f"{API}/packages/",
        params={"store": str(store.id)},
        content_type="multipart/form-data",
        headers=headers,
        status="*",
    )
    assert error(no_file) == ("files", "No file was submitted.")
    not_a_file = client.app.post(
        f"{API}/packages/",
        params={"store": str(store.id), "files": "just text"},
        upload_files=[("other", "x_1.0_all.deb", b"x")],
        headers=headers,
        status="*",
    )
    assert error(not_a_file) == ("files", "The submitted data was not a file.")
    missing_store = upload(client, None)
    assert error(missing_store) == ("store", "This field is required.")
    assert error(upload(client, "abc")) == ("store", "A valid integer is required.")
    assert error(upload(client, 999999)) == (
        "store",
        'Invalid pk "999999" - object does not exist.',
    )
    as_json = client.post(f"{API}/packages/", {"store": store.id, "files": DEB}, as_="packager")
    assert as_json.status_int == 400 and error(as_json)[0] == "files"
    garbage = client.app.post(
        f"{API}/packages/",
        b"--nope\r\n\r\n",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=zzz"},
        status="*",
    )
    assert garbage.status_int == 400


# -- packages: reading -------------------------------------------------------------------------


@pytest.fixture
def catalogue(make, project, store):
    """Packages in two projects; some in deployments and package sets."""
    other_project = make.project("fedora-40", pms="dnf", platform=project.platform)
    other_store = make.store("Extra", other_project)
    rows = {
        "bash": make.package("bash", "5.2-1", "amd64", store=store),
        "zsh": make.package("zsh", "5.9-4", "amd64", store=store),
        "vim": make.package("vim", "9.0-1", "all", project=project),
        "curl": make.package(
            "curl", "8.6-1", "x86_64", store=other_store, fullname="curl-8.6-1.x86_64.rpm"
        ),
    }
    rows["deployment"] = make.deployment(project=project, available_packages=[rows["bash"]])
    rows["set"] = make.package_set(project=project, store=store, packages=[rows["zsh"]])
    rows["other_project"], rows["other_store"] = other_project, other_store
    return rows


def fullnames(response) -> list[str]:
    assert response.status_int == 200, response.text
    return [row["fullname"] for row in response.json["results"]]


def test_package_list_filters(client, catalogue, project, store):
    bash, zsh, vim, curl = (catalogue[k] for k in ("bash", "zsh", "vim", "curl"))
    get = lambda query: fullnames(client.get(f"{API}/packages/?{query}", as_="reader"))  # noqa: E731
    everything = [bash.fullname, curl.fullname, vim.fullname, zsh.fullname]
    assert get("") == everything
    assert get(f"id={vim.id}") == [vim.fullname]
    assert get(f"id__in={vim.id},{curl.id}") == [curl.fullname, vim.fullname]
    assert get("fullname__icontains=RPM") == [curl.fullname]
    assert get("name=zsh") == [zsh.fullname]
    assert get("name__icontains=SH") == [bash.fullname, zsh.fullname]
    assert get("version=9.0-1") == [vim.fullname]
    assert get("version__icontains=5.") == [bash.fullname, zsh.fullname]
    assert get("architecture=all") == [vim.fullname]
    assert get("architecture__icontains=86") == [curl.fullname]
    assert get(f"project__id={project.id}") == [bash.fullname, vim.fullname, zsh.fullname]
    assert get("project__name=fedora-40") == [curl.fullname]
    assert get("project__name__icontains=DEBIAN") == [bash.fullname, vim.fullname, zsh.fullname]
    assert len(get(f"project__platform__id={project.platform_id}")) == 4
    assert get("deployment__isnull=false") == [bash.fullname]
    assert get(f"deployment__id={catalogue['deployment'].id}") == [bash.fullname]
    assert get("store__isnull=true") == [vim.fullname]
    assert get(f"store__id={store.id}") == [bash.fullname, zsh.fullname]
    assert get(f"store__id__in={store.id},{catalogue['other_store'].id}") == [
        bash.fullname,
        curl.fullname,
        zsh.fullname,
    ]
    assert get("store__name=Extra") == [curl.fullname]
    assert get("store__name__icontains=main") == [bash.fullname, zsh.fullname]
    assert get("packageset__isnull=false") == [zsh.fullname]
    assert get(f"packageset__id={catalogue['set'].id}") == [zsh.fullname]
    assert client.get(f"{API}/packages/?id=x").status_int == 400
    assert client.get(f"{API}/packages/?store__isnull=maybe").status_int == 400


def test_package_search_ordering_pagination_export(client, catalogue):
    bash, zsh, vim, curl = (catalogue[k] for k in ("bash", "zsh", "vim", "curl"))
    get = lambda query: fullnames(client.get(f"{API}/packages/?{query}"))  # noqa: E731
    assert get("search=zsh") == [zsh.fullname]
    assert get("search=5 amd64") == [bash.fullname, zsh.fullname]
    assert get("ordering=-name") == [zsh.fullname, vim.fullname, curl.fullname, bash.fullname]
    assert get("ordering=-project__name,fullname")[0] == curl.fullname
    assert get("ordering=store,name") == [bash.fullname, zsh.fullname, curl.fullname, vim.fullname]
    assert client.get(f"{API}/packages/?ordering=nope").status_int == 400
    page = client.get(f"{API}/packages/?page_size=3&page=2").json
    assert page["count"] == 4 and len(page["results"]) == 1 and page["next"] is None
    filtered = client.post(f"{API}/packages/filter/", {"id__in": [bash.id, vim.id]}).json
    assert filtered["count"] == 2
    exported = client.get(f"{API}/packages/export/?name=bash")
    assert exported.content_type == "text/csv"
    header, row = exported.text.splitlines()
    assert header == "id,fullname,name,version,architecture,project,store,url"
    assert row.startswith(f"{bash.id},{bash.fullname},bash,5.2-1,amd64,debian-12,Main Store,")


def test_package_detail_and_unsupported_methods(client, catalogue):
    vim = catalogue["vim"]
    detail = client.get(f"{API}/packages/{vim.id}/", as_="reader")
    assert detail.json["store"] == {"id": 0, "name": ""}
    assert detail.json["url"] == ""
    assert client.get(f"{API}/packages/999999/").status_int == 404
    assert client.put(f"{API}/packages/{vim.id}/", {"name": "x"}).status_int == 405
    assert client.patch(f"{API}/packages/{vim.id}/", {"name": "x"}).status_int == 405


def test_orphan_packages(client, catalogue, make, store):
    lonely = make.package("lonely", "1.0", "all", store=store)
    orphans = client.get(f"{API}/packages/orphan/", as_="reader")
    assert orphans.status_int == 200
    # Unpaginated; without store (vim), in a deployment (bash) or a set (zsh): not orphans.
    assert [p["fullname"] for p in orphans.json] == [
        catalogue["curl"].fullname,
        lonely.fullname,
    ]
    assert orphans.json[1]["store"]["id"] == store.id


def test_package_info(client, registry, catalogue):
    bash = catalogue["bash"]
    put_file(registry, bash, b"hello")
    info = client.get(f"{API}/packages/{bash.id}/info/", as_="reader")
    assert info.status_int == 200
    data = info.json["data"]
    assert f"File: {bash.fullname}" in data
    assert "Size: 5 bytes" in data
    assert f"SHA256: {hashlib.sha256(b'hello').hexdigest()}" in data
    assert "Version: 5.2-1" in data and "Architecture: amd64" in data
    missing = client.get(f"{API}/packages/{catalogue['zsh'].id}/info/").json["data"]
    assert "missing" in missing
    no_store = client.get(f"{API}/packages/{catalogue['vim'].id}/info/")
    assert no_store.status_int == 400
    assert error(no_store)[1] == "The package has no store on the server"
    assert client.get(f"{API}/packages/999999/info/").status_int == 404


# -- packages: destroy -------------------------------------------------------------------------


def test_destroy_unlinks_and_removes_file_after_commit(
    client, registry, catalogue, dbsession, tm, events
):
    bash, zsh = catalogue["bash"], catalogue["zsh"]
    package_set, deployment = catalogue["set"], catalogue["deployment"]
    package_set.packages.append(bash)
    dbsession.flush()
    path = put_file(registry, bash)
    keep = put_file(registry, zsh)
    response = client.delete(f"{API}/packages/{bash.id}/", as_="packager")
    assert response.status_int == 204
    assert dbsession.get(Package, bash.id) is None
    dbsession.expire_all()
    assert deployment.available_packages == []
    assert [p.id for p in package_set.packages] == [zsh.id]
    assert os.path.exists(path)  # only removed once the transaction commits
    run_after_commit_hooks(tm)
    assert not os.path.exists(path) and os.path.exists(keep)
    (event,) = events
    assert (event.project_id, event.package_ids) == (bash.project_id, (bash.id,))
    assert event.deployment_ids == (deployment.id,)
    assert client.delete(f"{API}/packages/{bash.id}/").status_int == 404


def test_destroy_after_commit_keeps_a_newer_file(client, registry, catalogue, tm):
    zsh = catalogue["zsh"]
    path = put_file(registry, zsh, b"old")
    assert client.delete(f"{API}/packages/{zsh.id}/").status_int == 204
    write_atomic(path, io.BytesIO(b"uploaded again meanwhile"))
    run_after_commit_hooks(tm)
    assert read(path) == b"uploaded again meanwhile"


def test_destroy_package_without_store(client, catalogue):
    assert client.delete(f"{API}/packages/{catalogue['vim'].id}/").status_int == 204


# -- packages: permissions and statements ------------------------------------------------------


def test_package_permissions(client, store, catalogue):
    url = f"{API}/packages/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(f"{url}orphan/", as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert upload(client, store.id, as_="reader").status_int == 403
    assert upload(client, store.id, as_="liberator").status_int == 403
    assert upload(client, store.id, as_="anonymous").status_int == 401
    assert client.delete(f"{url}{catalogue['vim'].id}/", as_="configurator").status_int == 403
    assert upload(client, store.id, as_="packager").status_int == 201
    assert client.delete(f"{url}{catalogue['vim'].id}/", as_="packager").status_int == 204


def test_package_list_statement_count(client, make, statements):
    headers = client.headers(client.role("reader"))

    def add(count):
        for _ in range(count):
            make.package(store=make.store())

    add(3)
    with statements:
        client.app.get(f"{API}/packages/", headers=headers)
    few = statements.count
    add(20)
    with statements:
        client.app.get(f"{API}/packages/", headers=headers)
    assert statements.count == few


# -- package sets ------------------------------------------------------------------------------


def set_body(project, store=None, packages=(), **extra):
    return {
        "name": "office",
        "description": "Office tools",
        "project": project.id,
        "store": store.id if store else None,
        "packages": [p.id for p in packages],
        **extra,
    }


def test_package_set_crud(client, make, project, store, events):
    one = make.package("one", store=store)
    two = make.package("two", store=store)
    created = client.post(f"{API}/package-sets/", set_body(project, store, [two, one]))
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "name": "office",
        "description": "Office tools",
        "project": {
            "id": project.id,
            "name": "debian-12",
            "slug": "debian-12",
            "pms": "apt",
            "architecture": "amd64",
        },
        "store": {"id": store.id, "name": "Main Store", "slug": "main-store"},
        "packages": [
            {"id": one.id, "fullname": one.fullname},
            {"id": two.id, "fullname": two.fullname},
        ],
    }
    assert client.get(f"{API}/package-sets/{pk}/", as_="reader").json == created.json
    patched = client.patch(f"{API}/package-sets/{pk}/", {"packages": [one.id]})
    assert patched.status_int == 200 and [p["id"] for p in patched.json["packages"]] == [one.id]
    assert events[-1].package_ids == (one.id, two.id) and events[-1].project_id == project.id
    put = client.put(f"{API}/package-sets/{pk}/", {"name": "desk", "project": project.id})
    assert put.status_int == 200
    assert put.json["store"] is None and put.json["description"] is None
    assert put.json["packages"] == []
    assert client.patch(f"{API}/package-sets/{pk}/", {"description": "d"}).json["name"] == "desk"
    assert client.delete(f"{API}/package-sets/{pk}/").status_int == 204
    assert client.get(f"{API}/package-sets/{pk}/").status_int == 404
    assert client.delete(f"{API}/package-sets/{pk}/").status_int == 404


def test_package_set_validation(client, make, project, store):
    other_project = make.project()
    foreign_store = make.store(project=other_project)
    foreign = make.package(store=foreign_store)
    loose = make.package(project=project)  # known from inventories, no store
    url = f"{API}/package-sets/"

    def fails(body, field, text=None):
        response = client.post(url, body)
        assert response.status_int == 400, response.text
        name, description = error(response)
        assert name == field
        if text:
            assert description == text

    body = set_body(project, store)
    for field in ("name", "project"):
        fails({k: v for k, v in body.items() if k != field}, field, "Required")
    fails({**body, "name": ""}, "name")
    fails({**body, "name": "x" * 51}, "name")
    fails({**body, "project": "x"}, "project")
    fails({**body, "packages": "x"}, "packages")
    fails({**body, "packages": ["a"]}, "packages")
    fails({**body, "project": 999999}, "project", 'Invalid pk "999999" - object does not exist.')
    fails({**body, "store": 999999}, "store")
    fails({**body, "packages": [999999]}, "packages")
    fails({**body, "store": foreign_store.id}, "store", "Store must belong to the project")
    fails(
        {**body, "packages": [foreign.id]},
        "packages",
        f"Package {foreign.fullname} must belong to the project debian-12",
    )
    fails(
        {**body, "packages": [loose.id]},
        "packages",
        f"Package {loose.fullname} must belong to the store Main Store",
    )
    # Without a store, any package of the project will do.
    assert client.post(url, {**body, "store": None, "packages": [loose.id]}).status_int == 201
    fails(body, "name", "A package set with this name already exists in the project.")
    assert client.post(url, set_body(other_project, foreign_store)).status_int == 201
    bad_json = client.app.post(
        url,
        "{nope",
        headers={**client.headers(client.role("admin")), "Content-Type": "application/json"},
        status="*",
    )
    assert bad_json.status_int == 400


def test_package_set_update_rules(client, make, project, store):
    package_set = make.package_set("office", project=project, store=store)
    make.package_set("games", project=project)
    url = f"{API}/package-sets/{package_set.id}/"
    renamed = client.patch(url, {"name": "games"})
    assert error(renamed) == ("name", "A package set with this name already exists in the project.")
    moved = client.patch(url, {"project": make.project().id})
    assert error(moved) == ("store", "Store must belong to the project")
    assert client.patch(url, {"store": None}).json["store"] is None
    assert client.put(url, {"name": "office"}).status_int == 400
    assert client.patch("/api/v1/token/package-sets/999999/", {"name": "x"}).status_int == 404


@pytest.fixture
def sets(make, project, store):
    """Three sets in two projects, one in a deployment."""
    fedora = make.project("fedora-40", pms="dnf", platform=project.platform)
    package = make.package("bash", store=store)
    rows = {
        "office": make.package_set("office", project=project, store=store, packages=[package]),
        "games": make.package_set("games", project=project),
        "tools": make.package_set("tools", project=fedora, store=make.store("Extra", fedora)),
        "package": package,
        "fedora": fedora,
    }
    make.deployment(project=project, available_package_sets=[rows["games"]])
    return rows


def set_names(response) -> list[str]:
    assert response.status_int == 200, response.text
    return [row["name"] for row in response.json["results"]]


def test_package_set_filters_search_ordering(client, sets, project, store):
    get = lambda query: set_names(client.get(f"{API}/package-sets/?{query}", as_="reader"))  # noqa: E731
    assert get("") == ["games", "office", "tools"]  # by project name, then name
    assert get(f"id={sets['games'].id}") == ["games"]
    assert get(f"id__in={sets['games'].id},{sets['tools'].id}") == ["games", "tools"]
    assert get("name=office") == ["office"]
    assert get("name__icontains=O") == ["office", "tools"]
    assert get(f"project__id={project.id}") == ["games", "office"]
    assert get("project__name=fedora-40") == ["tools"]
    assert get("project__name__icontains=deb") == ["games", "office"]
    assert get(f"project__platform__id={project.platform_id}") == ["games", "office", "tools"]
    assert get(f"store__id={store.id}") == ["office"]
    assert get("store__name=Extra") == ["tools"]
    assert get("store__name__icontains=main") == ["office"]
    assert get(f"packages__id={sets['package'].id}") == ["office"]
    assert get("packages__isnull=true") == ["games", "tools"]
    assert get("deployment__isnull=false") == ["games"]
    assert get("deployment__isnull=true") == ["office", "tools"]
    assert get("search=GAM") == ["games"]
    assert get("ordering=-name") == ["tools", "office", "games"]
    assert get("ordering=-project__name,name") == ["tools", "games", "office"]
    assert client.get(f"{API}/package-sets/?ordering=packages").status_int == 400
    page = client.get(f"{API}/package-sets/?page_size=2&page=2").json
    assert page["count"] == 3 and [r["name"] for r in page["results"]] == ["tools"]
    assert client.get(f"{API}/package-sets/?page=5").status_int == 404
    exported = client.get(f"{API}/package-sets/export/?name=office")
    assert exported.text.splitlines()[0] == "id,name,description,project,store,packages"


def test_package_set_delete_notifies_deployments(client, sets, events):
    games = sets["games"]
    assert client.delete(f"{API}/package-sets/{games.id}/", as_="packager").status_int == 204
    (event,) = events
    assert len(event.deployment_ids) == 1 and event.package_ids == ()


def test_package_set_permissions(client, sets, project):
    url = f"{API}/package-sets/"
    office = sets["office"]
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    body = {"name": "new", "project": project.id}
    assert client.post(url, body, as_="reader").status_int == 403
    assert client.patch(f"{url}{office.id}/", {"name": "x"}, as_="liberator").status_int == 403
    assert client.delete(f"{url}{office.id}/", as_="configurator").status_int == 403
    assert client.post(f"{url}{office.id}/copy/", {}, as_="reader").status_int == 403
    assert client.post(url, body, as_="packager").status_int == 201
    assert client.patch(f"{url}{office.id}/", {"name": "y"}, as_="packager").status_int == 200
    assert client.delete(f"{url}{office.id}/", as_="packager").status_int == 204


def test_package_set_list_statement_count(client, make, statements):
    headers = client.headers(client.role("reader"))

    def add(count):
        for _ in range(count):
            store = make.store()
            packages = [make.package(store=store) for _ in range(2)]
            make.package_set(store=store, packages=packages)

    add(2)
    with statements:
        client.app.get(f"{API}/package-sets/", headers=headers)
    few = statements.count
    add(12)
    with statements:
        client.app.get(f"{API}/package-sets/", headers=headers)
    assert statements.count == few


# -- package sets: multipart -------------------------------------------------------------------


def test_package_set_multipart_create(client, registry, make, project, store, dbsession, events):
    existing = make.package("existing", store=store)
    response = upload(
        client,
        store.id,
        [("one_1.0_all.deb", b"1"), ("two-2.0.x86_64.rpm", b"2")],
        url=f"{API}/package-sets/",
        name="uploads",
        project=str(project.id),
        packages=str(existing.id),
    )
    assert response.status_int == 201, response.text
    assert [p["fullname"] for p in response.json["packages"]] == [
        existing.fullname,
        "one_1.0_all.deb",
        "two-2.0.x86_64.rpm",
    ]
    assert response.json["description"] is None
    assert read(stored(registry, store, "one_1.0_all.deb")) == b"1"
    two = dbsession.query(Package).filter_by(fullname="two-2.0.x86_64.rpm").one()
    assert (two.name, two.version, two.architecture, two.store_id) == (
        "two",
        "2.0",
        "x86_64",
        store.id,
    )
    assert events[-1].package_ids == tuple(sorted(events[-1].package_ids))
    assert len(events[-1].package_ids) == 2


def test_package_set_multipart_errors(client, registry, make, project, store, dbsession):
    make.package("taken", "1.0", "all", store=store)
    url = f"{API}/package-sets/"
    fields = {"name": "uploads", "project": str(project.id)}
    bad_name = upload(client, store.id, [("_1_all.deb", b"x")], url=url, **fields)
    assert error(bad_name) == ("files", "Package _1_all.deb has an incorrect name format")
    duplicated = upload(client, store.id, [("taken_1.0_all.deb", b"x")], url=url, **fields)
    assert error(duplicated) == (
        "files",
        "Package taken_1.0_all.deb is duplicated in store Main Store",
    )
    twice = upload(
        client, store.id, [("a_1_all.deb", b"x"), ("a_1_all.deb", b"y")], url=url, **fields
    )
    assert error(twice)[1] == "Package a_1_all.deb is duplicated in store Main Store"
    no_store = upload(client, None, [("a_1_all.deb", b"x")], url=url, **fields)
    assert error(no_store) == ("files", "The package set needs a store to upload packages.")
    missing = upload(client, store.id, [("a_1_all.deb", b"x")], url=url, project=str(project.id))
    assert error(missing) == ("name", "Required")
    bad_ids = upload(client, store.id, [("a_1_all.deb", b"x")], url=url, packages="x", **fields)
    assert error(bad_ids)[0] == "packages"
    traversal = upload(client, store.id, [("../a_1_all.deb", b"x")], url=url, **fields)
    assert error(traversal)[0] == "files"
    foreign = make.store(project=make.project())
    wrong_store = upload(client, foreign.id, [("a_1_all.deb", b"x")], url=url, **fields)
    assert error(wrong_store) == ("store", "Store must belong to the project")
    assert dbsession.query(PackageSet).filter_by(name="uploads").count() == 0
    assert not os.path.exists(stored(registry, store, "a_1_all.deb"))


def test_package_set_multipart_patch_adds_files(client, registry, make, store):
    kept = make.package("kept", store=store)
    package_set = make.package_set("office", store=store, packages=[kept])
    response = client.app.patch(
        f"{API}/package-sets/{package_set.id}/",
        params={"description": "more"},
        upload_files=[("files", "new_3.0_all.deb", b"new")],
        headers=client.headers(client.role("packager")),
        status="*",
    )
    assert response.status_int == 200, response.text
    assert response.json["description"] == "more"
    assert [p["fullname"] for p in response.json["packages"]] == [kept.fullname, "new_3.0_all.deb"]
    assert read(stored(registry, store, "new_3.0_all.deb")) == b"new"
    readonly = client.app.patch(
        f"{API}/package-sets/{package_set.id}/",
        params={"name": "x"},
        upload_files=[("files", "z_1_all.deb", b"z")],
        headers=client.headers(client.role("reader")),
        status="*",
    )
    assert readonly.status_int == 403


# -- package sets: copy ------------------------------------------------------------------------


@pytest.fixture
def source_set(make, registry, project, store):
    stored_package = make.package("acme-tools", "1.2-3", "all", store=store)
    loose = make.package("loose", project=project)
    put_file(registry, stored_package, b"acme")
    return make.package_set(
        "office", project=project, store=store, packages=[stored_package, loose]
    )


def test_copy_package_set(client, registry, make, source_set, dbsession, events):
    target = make.project("ubuntu-24")
    url = f"{API}/package-sets/{source_set.id}/copy/"
    response = client.post(url, {"project": target.id}, as_="packager")
    assert response.status_int == 201, response.text
    copied = dbsession.get(PackageSet, response.json["package_set_id"])
    assert response.json == {
        "created": True,
        "package_set_id": copied.id,
        "package_set_name": "office",
        "copied_packages": 2,
    }
    assert copied.project_id == target.id and copied.store.name == "Main Store"
    assert copied.store.project_id == target.id
    by_name = {p.name: p for p in copied.packages}
    assert by_name["acme-tools"].store_id == copied.store.id
    assert by_name["loose"].store is None
    assert read(stored(registry, by_name["acme-tools"])) == b"acme"
    assert read(stored(registry, source_set.packages[0])) == b"acme"  # the source stays
    assert events[-1].project_id == target.id
    again = client.post(url, {"project": target.id})
    assert again.status_int == 200
    assert again.json == {"created": False, "skipped_name": "office", "copied_packages": 0}


def test_copy_reuses_stored_packages_of_the_target(client, registry, make, source_set):
    target = make.project("ubuntu-24")
    target_store = make.store("Main Store", target)
    theirs = make.package("acme-tools", "1.2-3", "all", store=target_store)
    put_file(registry, theirs, b"theirs")
    response = client.post(f"{API}/package-sets/{source_set.id}/copy/", {"project": target.id})
    assert response.status_int == 201
    assert read(stored(registry, theirs)) == b"theirs"  # never overwritten


def test_copy_errors(client, source_set, project):
    url = f"{API}/package-sets/{source_set.id}/copy/"
    assert error(client.post(url, {})) == ("project", "Target project is required")
    assert error(client.post(url, {"project": None})) == ("project", "Target project is required")
    assert client.post(url, {"project": "x"}).status_int == 400
    same = client.post(url, {"project": project.id})
    assert error(same) == ("project", "Source and target project must be different")
    missing = client.post(url, {"project": 999999})
    assert missing.status_int == 404
    assert missing.json["errors"][0]["description"] == "Target project not found"
    assert client.post(f"{API}/package-sets/999999/copy/", {"project": 1}).status_int == 404
    empty = client.app.post(url, headers=client.headers(client.role("admin")), status="*")
    assert error(empty) == ("project", "Target project is required")
