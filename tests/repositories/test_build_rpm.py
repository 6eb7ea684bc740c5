"""yum/dnf/zypper repositories: createrepo_c metadata, the signed repomd.xml, incremental
rebuilds, and the real dnf reading them over HTTP with ``repo_gpgcheck=1``."""

from __future__ import annotations

import gzip
import logging
import os
import re

import pytest

from .builders import dearmor, gpgv, run, same_bytes
from .packages import make_rpm, missing_tools, requires

pytestmark = requires("createrepo_c", "rpmbuild", "gpg", "gpgv")


@pytest.fixture
def rpms(build_tree):
    store = build_tree.store
    return {
        "hello-1": make_rpm(store, "hello", "1.0"),
        "hello-2": make_rpm(store, "hello", "1.1"),
        "tools": make_rpm(store, "hello-tools", "2.0"),
    }


def primary_locations(live: str) -> list[str]:
    repodata = os.path.join(live, "repodata")
    primary = next(n for n in os.listdir(repodata) if n.endswith("primary.xml.gz"))
    with gzip.open(os.path.join(repodata, primary), "rt") as handle:
        return sorted(re.findall(r'<location href="([^"]+)"', handle.read()))


@pytest.mark.parametrize("pms_name", ["yum", "dnf", "zypper"])
def test_the_repository_layout(build_tree, rpms, client_dir, pms_name):
    live = build_tree.publish(pms_name, "stable", rpms.values())
    assert live == os.path.join(build_tree.public, "proj", "repos", "stable")
    assert primary_locations(live) == [
        "PKGS/hello-1.0-1.noarch.rpm",
        "PKGS/hello-1.1-1.noarch.rpm",
        "PKGS/hello-tools-2.0-1.noarch.rpm",
    ]
    repomd = os.path.join(live, "repodata", "repomd.xml")
    keyring = dearmor(build_tree.signer.public_key_path(), os.path.join(client_dir, "k.gpg"))
    assert gpgv(keyring, f"{repomd}.asc", repomd).returncode == 0
    with open(f"{repomd}.asc") as handle:
        assert handle.read().startswith("-----BEGIN PGP SIGNATURE-----")
    assert not os.path.exists(os.path.join(live, ".repodata"))


def test_rebuilds_read_only_new_or_changed_packages(build_tree, rpms, caplog):
    caplog.set_level(logging.INFO, logger="migasfree_pyramid.pms")
    build_tree.publish("dnf", "stable", [rpms["hello-1"], rpms["tools"]])
    assert "2 packages, 2 read" in caplog.text
    caplog.clear()
    live = build_tree.publish("dnf", "stable", rpms.values())
    assert "3 packages, 1 read" in caplog.text  # the live metadata of the others is reused
    assert len(primary_locations(live)) == 3
    caplog.clear()
    live = build_tree.publish("dnf", "stable", [rpms["hello-2"]])
    assert "1 packages, 0 read" in caplog.text
    assert primary_locations(live) == ["PKGS/hello-1.1-1.noarch.rpm"]


def test_an_empty_deployment_is_a_valid_repository(build_tree):
    live = build_tree.publish("dnf", "empty", [])
    assert primary_locations(live) == []
    assert os.path.exists(os.path.join(live, "repodata", "repomd.xml.asc"))


# -- the real dnf -------------------------------------------------------------------------------


class DnfClient:
    """dnf with its own configuration, repositories directory, install root and cache."""

    def __init__(self, root: str, repo_file: str):
        self.root = root
        for folder in ("repos.d", "installroot", "cache", "dl", "log"):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        with open(os.path.join(root, "repos.d", "migasfree.repo"), "w") as handle:
            handle.write(repo_file)
        with open(os.path.join(root, "dnf.conf"), "w") as handle:
            handle.write("[main]\ngpgcheck=0\ninstallonly_limit=3\n")

    def __call__(self, *args: str):
        r = self.root
        argv = [
            "dnf",
            "-y",
            f"--config={r}/dnf.conf",
            f"--setopt=reposdir={r}/repos.d",
            f"--installroot={r}/installroot",
            "--releasever=12",
            f"--setopt=cachedir={r}/cache",
            f"--setopt=logdir={r}/log",
            *args,
        ]
        return run(argv, env={**os.environ, "LC_ALL": "C"})


@pytest.fixture
def dnf_client(build_tree, static_server, client_dir):
    if missing_tools("dnf"):
        pytest.skip("missing tools: dnf")

    def make(slug: str, name: str = "client") -> DnfClient:
        root = os.path.join(client_dir, name)
        keys_path = os.path.join(root, "keys")
        text = build_tree.source("dnf", slug, static_server, keys_path=keys_path)
        assert "repo_gpgcheck=1\n" in text and "gpgcheck=0\n" in text
        # Where the client stores the key it downloaded from /api/v1/public/keys/repositories/.
        key = os.path.join(keys_path, static_server, "repositories.pub")
        os.makedirs(os.path.dirname(key))
        with open(build_tree.signer.public_key_path()) as src, open(key, "w") as dst:
            dst.write(src.read())
        return DnfClient(root, text)

    return make


def test_dnf_reads_the_repository_and_downloads(build_tree, rpms, dnf_client):
    build_tree.publish("dnf", "stable", rpms.values())
    dnf = dnf_client("stable")
    cache = dnf("makecache")
    assert cache.returncode == 0, cache.stdout + cache.stderr
    assert "Importing GPG key" in cache.stdout + cache.stderr
    # ``dnf download`` is a plugin (dnf-plugins-core) Debian does not install with dnf.
    download = dnf("install", "--downloadonly", f"--destdir={dnf.root}/dl", "hello")
    assert download.returncode == 0, download.stdout + download.stderr
    assert os.listdir(f"{dnf.root}/dl") == ["hello-1.1-1.noarch.rpm"]
    assert same_bytes(f"{dnf.root}/dl/hello-1.1-1.noarch.rpm", rpms["hello-2"])


def test_a_tampered_repomd_makes_dnf_fail(build_tree, rpms, dnf_client):
    live = build_tree.publish("dnf", "stable", rpms.values())
    repomd = os.path.join(live, "repodata", "repomd.xml")
    with open(repomd) as handle:
        text = handle.read()
    with open(repomd, "w") as handle:
        handle.write(text.replace("<revision>", "<revision>9"))
    cache = dnf_client("stable")("makecache")
    assert cache.returncode != 0
    assert "GPG signature verification error" in cache.stdout + cache.stderr


def test_a_missing_signature_makes_dnf_fail(build_tree, rpms, dnf_client):
    live = build_tree.publish("dnf", "stable", rpms.values())
    os.unlink(os.path.join(live, "repodata", "repomd.xml.asc"))
    cache = dnf_client("stable")("makecache")
    assert cache.returncode != 0
