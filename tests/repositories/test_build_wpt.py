"""wpt (Windows) repositories: ``packages.json`` and its armored signature; no wpt client runs
here, so the test checks what the client reads (repositories.md 1.3, the wpt client's
``packages.json`` + ``packages.json.sig`` + ``<url>/<filename>`` with the sha256)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile

import pytest

from migasfree_pyramid.pms import get_pms
from migasfree_pyramid.pms.base import BuildError

from .builders import dearmor, gpgv
from .packages import make_wpt, requires

pytestmark = requires("gpg", "gpgv")


def test_packages_json_and_its_signature(build_tree, client_dir, caplog):
    caplog.set_level(logging.INFO, logger="migasfree_pyramid.pms")
    store = build_tree.store
    files = [make_wpt(store, "firefox", "120.0"), make_wpt(store, "firefox", "121.0")]
    files.append(make_wpt(store, "7zip", "23.01"))
    live = build_tree.publish("wpt", "stable", files)
    assert live == os.path.join(build_tree.public, "proj", "repos", "stable")
    with open(os.path.join(live, "packages.json")) as handle:
        index = json.load(handle)
    assert sorted(index) == ["7zip", "firefox"]
    assert sorted(index["firefox"]) == ["120.0", "121.0"]
    entry = index["firefox"]["121.0"]
    assert entry["filename"] == "PKGS/firefox_121.0_x64.tar.gz"
    with open(os.path.join(live, entry["filename"]), "rb") as handle:  # through the link
        assert entry["hash"] == hashlib.sha256(handle.read()).hexdigest()
    assert entry["metadata"]["name"] == "firefox"
    assert entry["metadata"]["specification"] == "1.0.0"
    keyring = dearmor(build_tree.signer.public_key_path(), os.path.join(client_dir, "k.gpg"))
    signature = os.path.join(live, "packages.json.sig")
    assert gpgv(keyring, signature, os.path.join(live, "packages.json")).returncode == 0
    with open(signature) as handle:
        assert handle.read().startswith("-----BEGIN PGP SIGNATURE-----")
    assert "3 packages, 3 read" in caplog.text

    caplog.clear()
    build_tree.publish("wpt", "stable", files[:2])
    assert "2 packages, 0 read" in caplog.text


def test_the_client_line(build_tree):
    line = build_tree.source("wpt", "stable", "server.example")
    assert line == "http://server.example/pub/proj/repos/stable PKGS\n"


def test_a_package_without_metadata_fails_the_build(build_tree):
    bad = os.path.join(build_tree.store, "bad_1.0_x64.tar.gz")
    with tarfile.open(bad, "w:gz"):
        pass
    ctx = build_tree.context("wpt", "stable", [bad])
    with pytest.raises(BuildError, match=r"bad_1\.0_x64\.tar\.gz: no pms/metadata\.json"):
        get_pms("wpt").build(ctx)
    nameless = make_wpt(build_tree.store, "x", "1", metadata={"version": "1"})
    ctx = build_tree.context("wpt", "stable", [nameless])
    with pytest.raises(BuildError, match="needs a name and a version"):
        get_pms("wpt").build(ctx)
    garbage = os.path.join(build_tree.store, "garbage_1_x64.tar.gz")
    with open(garbage, "w") as handle:
        handle.write("not a tar")
    ctx = build_tree.context("wpt", "stable", [garbage])
    with pytest.raises(BuildError, match="unreadable wpt package"):
        get_pms("wpt").build(ctx)
