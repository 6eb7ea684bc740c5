"""End to end: a .deb uploaded through the admin API, added to a deployment, built by the
queued task with the real apt builder, served by the app (waitress, ``/pub/``) and fetched by a
real ``apt-get update`` + ``apt-get download`` that checks the signature with the key from
``GET /api/v1/public/keys/repositories/`` (no ``trusted=yes``).

apt runs with a throwaway configuration (``APT_CONFIG``, ``Dir``): this machine's own apt
configuration, lists and caches are never read or written.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.request

import pytest
from waitress.server import create_server

from .packages import make_deb, requires

URL = "/api/v1/token/deployments/internal-sources/"

pytestmark = requires("apt-get", "apt-ftparchive", "dpkg-deb", "gpg", "gpgv")


@pytest.fixture
def keys(copied_keys, registry, monkeypatch):
    """A short keys directory (gpg-agent's socket path) holding the session's repository key."""
    monkeypatch.setitem(registry.settings, "migasfree.keys_dir", copied_keys)
    return copied_keys


@pytest.fixture
def server(keys, dev_app, dev_settings):
    """The app (with ``/pub/``) served by waitress on 127.0.0.1, an ephemeral port."""
    httpd = create_server(dev_app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.effective_port}"
    finally:
        httpd.close()
        httpd.task_dispatcher.shutdown()
        thread.join(timeout=10)


def apt(root: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "APT_CONFIG": os.path.join(root, "apt.conf"),
        "LC_ALL": "C",
    }
    return subprocess.run(  # noqa: S603 (fixed argv)
        ["apt-get", "-q", *args],  # noqa: S607
        cwd=os.path.join(root, "downloads"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def apt_root(root: str, source: str, key: str) -> str:
    """A private apt configuration trusting only ``key``, for the repository ``source``."""
    for folder in (
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "etc/apt/trusted.gpg.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg",
        "var/log/apt",
        "downloads",
    ):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    keyfile = os.path.join(root, "repository.asc")
    with open(keyfile, "w") as handle:
        handle.write(key)
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as handle:
        handle.write(source.replace("deb ", f"deb [signed-by={keyfile}] ", 1))
    with open(os.path.join(root, "apt.conf"), "w") as handle:
        handle.write(
            f'Dir "{root}/";\n'
            f'Dir::State::status "{root}/var/lib/dpkg/status";\n'
            'APT::Architecture "amd64";\n'
            'APT::Architectures { "amd64"; };\n'
            # As root, apt drops to the _apt user to download: it could not write here.
            'APT::Sandbox::User "root";\n'
            'Debug::NoLocking "true";\n'
            'Acquire::Languages "none";\n'
            'Acquire::http::Proxy "DIRECT";\n'
        )
    return root


def test_an_uploaded_deb_is_fetched_by_apt_get(
    client, task_runner, dbsession, make, server, client_dir, tmp_path
):
    project = make.project(name="Debian 12", pms="apt", architecture="amd64")
    store = make.store(name="Main Store", project=project)
    deployment = make.deployment(name="Office", project=project)
    deb = make_deb(str(tmp_path), "hello-e2e", "1.0-1", arch="all", text="hello from e2e\n")
    with open(deb, "rb") as handle:
        content = handle.read()

    # Upload into the store, then offer it in the deployment.
    response = client.call(
        "POST",
        "/api/v1/token/packages/",
        params={"store": str(store.id)},
        upload_files=[("files", os.path.basename(deb), content)],
    )
    assert response.status_int == 201, response.text
    package_id = response.json["id"]
    response = client.patch(f"{URL}{deployment.id}/", {"available_packages": [package_id]})
    assert response.status_int == 200, response.text
    assert client.get(f"{URL}{deployment.id}/build/").json["state"] == "queued"

    # One worker cycle: the task queued at commit.
    assert task_runner() == 1
    status = client.get(f"{URL}{deployment.id}/build/").json
    assert (status["state"], status["last_error"]) == ("idle", None), status

    with urllib.request.urlopen(f"http://{server}/api/v1/public/keys/repositories/") as answer:
        key = json.load(answer)["public_key"]
    assert "BEGIN PGP PUBLIC KEY BLOCK" in key
    source = f"deb http://{server}/pub/debian-12/repos office PKGS\n"
    root = apt_root(client_dir, source, key)

    update = apt(root, "update")
    assert update.returncode == 0, update.stdout + update.stderr
    assert "W:" not in update.stdout + update.stderr, update.stdout + update.stderr
    download = apt(root, "download", "hello-e2e")
    assert download.returncode == 0, download.stdout + download.stderr
    fetched = os.path.join(root, "downloads", os.path.basename(deb))
    with open(fetched, "rb") as handle:
        assert handle.read() == content


def test_apt_get_rejects_the_repository_with_another_key(
    client, task_runner, make, server, client_dir, tmp_path
):
    """The signature is really checked: trusting a different key makes ``update`` fail."""
    project = make.project(name="Debian 12", pms="apt", architecture="amd64")
    deployment = make.deployment(name="Office", project=project)
    client.get(f"{URL}{deployment.id}/metadata/")
    assert task_runner() == 1
    home = os.path.join(client_dir, "gnupg")
    os.makedirs(home, mode=0o700)
    gpg = ["gpg", "--batch", "--homedir", home, "--passphrase", ""]
    subprocess.run(  # noqa: S603 (fixed argv)
        [*gpg, "--quick-gen-key", "someone-else <x@example.org>", "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
    )
    other = subprocess.run(  # noqa: S603 (fixed argv)
        [*gpg, "--armor", "--export"], check=True, capture_output=True, text=True
    ).stdout
    root = apt_root(
        os.path.join(client_dir, "apt"),
        f"deb http://{server}/pub/debian-12/repos office PKGS\n",
        other,
    )
    update = apt(root, "update")
    output = update.stdout + update.stderr
    assert update.returncode != 0, output
    assert "NO_PUBKEY" in output and "is not signed" in output, output
