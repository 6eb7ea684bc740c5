"""pacman repositories: the sync databases we write, their binary signatures, incremental
rebuilds, and the real pacman reading them over HTTP with the database signature required."""

from __future__ import annotations

import logging
import os
import tarfile

import pytest

from migasfree_pyramid.pms import get_pms
from migasfree_pyramid.pms.alpm import parse_pkginfo, read_package, vercmp
from migasfree_pyramid.pms.base import BuildError

from .builders import dearmor, gpgv, run, same_bytes
from .packages import make_pacman, missing_tools, requires

pytestmark = requires("bsdtar", "zstd", "gpg", "gpgv")


@pytest.fixture
def pkgs(build_tree):
    store = build_tree.store
    return {
        "hello-1": make_pacman(store, "hello", "1.0-1"),
        "hello-2": make_pacman(store, "hello", "1.1-1", depends=("hello-tools>=2",)),
        "tools": make_pacman(store, "hello-tools", "2.0-1", arch="x86_64", compression="xz"),
        "extra": make_pacman(store, "hello-extra", "1:0.5-2", compression="gz"),
    }


def db_entries(live: str, slug: str, kind: str = "db") -> dict[str, dict[str, list[str]]]:
    """``{entry dir: {field: values}}`` of a database (``files`` as a field too)."""
    entries: dict[str, dict[str, list[str]]] = {}
    with tarfile.open(os.path.join(live, "PKGS", f"{slug}.{kind}")) as archive:
        for member in archive:
            if not member.isfile():
                continue
            folder = member.name.split("/")[0]
            text = archive.extractfile(member).read().decode()
            for block in text.strip("\n").split("\n\n"):
                lines = block.split("\n")
                entries.setdefault(folder, {})[lines[0].strip("%")] = lines[1:]
    return entries


def test_the_databases(build_tree, pkgs, client_dir):
    live = build_tree.publish("pacman", "stable", pkgs.values())
    assert live == os.path.join(build_tree.public, "proj", "repos", "stable")
    entries = db_entries(live, "stable")
    # One entry per name: the highest version of hello.
    assert sorted(entries) == ["hello-1.1-1", "hello-extra-1:0.5-2", "hello-tools-2.0-1"]
    hello = entries["hello-1.1-1"]
    assert hello["FILENAME"] == ["hello-1.1-1-any.pkg.tar.zst"]
    assert hello["NAME"] == ["hello"] and hello["VERSION"] == ["1.1-1"]
    assert hello["CSIZE"] == [str(os.path.getsize(pkgs["hello-2"]))]
    assert hello["DEPENDS"] == ["hello-tools>=2"]
    assert hello["ARCH"] == ["any"]
    files = db_entries(live, "stable", "files")["hello-1.1-1"]
    assert files["FILES"] == ["usr/", "usr/share/", "usr/share/hello/", "usr/share/hello/README"]
    assert files["SHA256SUM"] == hello["SHA256SUM"]

    folder = os.path.join(live, "PKGS")
    assert os.readlink(os.path.join(folder, "stable.db")) == "stable.db.tar.gz"
    assert os.readlink(os.path.join(folder, "stable.db.sig")) == "stable.db.tar.gz.sig"
    keyring = dearmor(build_tree.signer.public_key_path(), os.path.join(client_dir, "k.gpg"))
    for kind in ("db", "files"):
        signature, database = f"{folder}/stable.{kind}.sig", f"{folder}/stable.{kind}"
        assert gpgv(keyring, signature, database).returncode == 0
        with open(signature, "rb") as handle:
            assert not handle.read().startswith(b"-----")  # binary, as pacman wants


def test_an_empty_deployment_gets_empty_databases(build_tree):
    """The original wrote no database at all (spec Q13), so clients failed on -Sy."""
    live = build_tree.publish("pacman", "empty", [])
    assert db_entries(live, "empty") == {}
    assert os.path.exists(os.path.join(live, "PKGS", "empty.db.sig"))


def test_rebuilds_read_only_new_or_changed_packages(build_tree, pkgs, caplog):
    caplog.set_level(logging.INFO, logger="migasfree_pyramid.pms")
    build_tree.publish("pacman", "stable", pkgs.values())
    assert "4 packages, 4 read" in caplog.text
    caplog.clear()
    make_pacman(build_tree.store, "hello", "1.1-1", text="rebuilt\n")  # re-upload
    live = build_tree.publish("pacman", "stable", [pkgs["hello-1"], pkgs["hello-2"]])
    assert "2 packages, 1 read" in caplog.text
    assert sorted(db_entries(live, "stable")) == ["hello-1.1-1"]


def test_removing_the_newest_version_lists_the_previous_one(build_tree, pkgs):
    build_tree.publish("pacman", "stable", [pkgs["hello-1"], pkgs["hello-2"]])
    live = build_tree.publish("pacman", "stable", [pkgs["hello-1"]])
    assert sorted(db_entries(live, "stable")) == ["hello-1.0-1"]


def test_a_file_that_is_not_a_package_fails_the_build(build_tree, pkgs):
    bogus = os.path.join(build_tree.store, "bogus-1.0-1-any.pkg.tar.zst")
    with open(bogus, "wb") as handle:
        handle.write(b"\x28\xb5\x2f\xfd garbage")
    ctx = build_tree.context("pacman", "stable", [pkgs["hello-1"], bogus])
    with pytest.raises(BuildError, match=r"bogus-1\.0-1-any"):
        get_pms("pacman").build(ctx)


def test_pkginfo_parsing_and_reading():
    info = parse_pkginfo("# c\npkgname = a\ndepend = b\ndepend = c>=1\nbad line\n")
    assert info == {"pkgname": ["a"], "depend": ["b", "c>=1"]}


def test_read_package_lists_files_without_metadata(build_tree):
    info, files = read_package(make_pacman(build_tree.store, "x", "1-1"))
    assert info["pkgname"] == ["x"]
    assert ".PKGINFO" not in files and ".MTREE" not in files


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "1.1", -1),
        ("1.10", "1.9", 1),
        ("1.0a", "1.0", -1),
        ("1.0", "1.0.1", -1),
        ("1.0alpha", "1.0beta", -1),
        ("1.0-1", "1.0-2", -1),
        ("1.0-2", "1.0", 0),  # a missing release is not compared
        ("1:0.1-1", "2.0-1", 1),
        ("2.0-1", "1:0.1-1", -1),
        ("1.001", "1.1", 0),
        ("1.0.r3", "1.0.3", -1),
    ],
)
def test_vercmp_follows_libalpm(a, b, expected):
    assert vercmp(a, b) == expected
    assert vercmp(b, a) == -expected


# -- the real pacman ----------------------------------------------------------------------------


class PacmanClient:
    """pacman with its own configuration, database path, cache and GnuPG home (which trusts
    the repository key, as ``pacman-key --add`` + ``--lsign-key`` would make it)."""

    def __init__(self, root: str, section: str, armored_key: str):
        self.root = root
        for folder in ("db", "cache", "gnupg"):
            os.makedirs(os.path.join(root, folder), mode=0o700, exist_ok=True)
        with open(os.path.join(root, "pacman.conf"), "w") as handle:
            handle.write(
                "[options]\nArchitecture = x86_64\nSigLevel = Required DatabaseRequired\n\n"
            )
            handle.write(section)
        home = os.path.join(root, "gnupg")
        open(os.path.join(home, "pubring.gpg"), "a").close()  # pacman looks for this name
        fingerprint = ""
        for argv in (["--import", armored_key], ["--with-colons", "--show-keys", armored_key]):
            result = run(["gpg", "--batch", "--homedir", home, *argv])
            assert result.returncode == 0, result.stderr
            fingerprint = next(
                (ln.split(":")[9] for ln in result.stdout.splitlines() if ln.startswith("fpr:")),
                fingerprint,
            )
        ownertrust = ["gpg", "--batch", "--homedir", home, "--import-ownertrust"]
        trust = run(ownertrust, stdin=f"{fingerprint}:6:\n")
        assert trust.returncode == 0, trust.stderr

    def __call__(self, *args: str):
        r = self.root
        argv = [
            "pacman",
            "--noconfirm",
            "--config",
            f"{r}/pacman.conf",
            "--dbpath",
            f"{r}/db",
            "--cachedir",
            f"{r}/cache",
            "--gpgdir",
            f"{r}/gnupg",
            "--logfile",
            f"{r}/pacman.log",
            *args,
        ]
        return run(argv, env={**os.environ, "LC_ALL": "C"})


@pytest.fixture
def pacman_client(build_tree, static_server, client_dir):
    if missing_tools("pacman"):
        pytest.skip("missing tools: pacman")

    def make(slug: str, siglevel: str | None = None, name: str = "client") -> PacmanClient:
        section = build_tree.source("pacman", slug, static_server)
        assert section.startswith(f"[{slug}]\nSigLevel = Optional TrustAll PackageTrustAll\n")
        if siglevel:
            # Stricter than the client's line: the database must be signed by a trusted key.
            # (Packages are the packager's to sign; the server publishes them as uploaded.)
            section = section.replace("Optional TrustAll PackageTrustAll", siglevel)
        key = build_tree.signer.public_key_path()
        return PacmanClient(os.path.join(client_dir, name), section, key)

    return make


@pytest.mark.parametrize("siglevel", [None, "DatabaseRequired PackageOptional"])
def test_pacman_syncs_and_downloads(build_tree, pkgs, pacman_client, siglevel):
    build_tree.publish("pacman", "stable", pkgs.values())
    pacman = pacman_client("stable", siglevel)
    sync = pacman("-Sy")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "error" not in sync.stderr, sync.stderr
    download = pacman("-Sw", "hello")  # and hello-tools, its dependency
    assert download.returncode == 0, download.stdout + download.stderr
    cached = sorted(os.listdir(f"{pacman.root}/cache"))
    assert cached == ["hello-1.1-1-any.pkg.tar.zst", "hello-tools-2.0-1-x86_64.pkg.tar.xz"]
    assert same_bytes(f"{pacman.root}/cache/hello-1.1-1-any.pkg.tar.zst", pkgs["hello-2"])


def test_a_tampered_database_makes_pacman_fail(build_tree, pkgs, pacman_client):
    live = build_tree.publish("pacman", "stable", pkgs.values())
    with open(os.path.join(live, "PKGS", "stable.db.tar.gz"), "ab") as handle:
        handle.write(b"tampered")
    sync = pacman_client("stable", "DatabaseRequired PackageOptional")("-Sy")
    assert sync.returncode != 0
    assert "PGP signature" in sync.stderr or "invalid" in sync.stderr, sync.stderr


def test_a_missing_database_signature_makes_pacman_fail(build_tree, pkgs, pacman_client):
    live = build_tree.publish("pacman", "stable", pkgs.values())
    os.unlink(os.path.join(live, "PKGS", "stable.db.tar.gz.sig"))
    sync = pacman_client("stable", "DatabaseRequired PackageOptional")("-Sy")
    assert sync.returncode != 0
