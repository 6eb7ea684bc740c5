"""apt repositories: what the builder writes, its incremental rebuilds, and the real apt-get
reading them over HTTP with the signature checked (no ``trusted=yes``)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os
import time

import pytest

from migasfree_pyramid.crypto.gpg import Signer, import_repository_key
from migasfree_pyramid.pms import get_pms
from migasfree_pyramid.pms.apt import parse_stanzas, release_date
from migasfree_pyramid.pms.base import BuildError

from .builders import dearmor, gpgv, run, same_bytes
from .packages import make_deb, missing_tools, requires

pytestmark = requires("apt-ftparchive", "dpkg-deb", "gpg", "gpgv")
FIXTURE_SECRET = "/work/shared/fixtures/django-migasfree-small-keys/migasfree-repository.sec"


@pytest.fixture
def debs(build_tree):
    store = build_tree.store
    return {
        "hello-1": make_deb(store, "hello", "1.0-1"),
        "hello-2": make_deb(store, "hello", "1.1-1"),
        "common": make_deb(store, "hello-common", "1.0", arch="all"),
        "i386": make_deb(store, "hello-i386", "1.0", arch="i386"),
    }


def read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def packages_of(live: str, arch: str = "amd64") -> dict[str, dict]:
    return parse_stanzas(read(os.path.join(live, "PKGS", f"binary-{arch}", "Packages")))


def test_the_repository_layout(build_tree, debs, client_dir):
    live = build_tree.publish("apt", "stable", debs.values())
    assert live == os.path.join(build_tree.public, "proj", "repos", "dists", "stable")
    stanzas = packages_of(live)
    # amd64 and "all" packages, never another architecture; Filename uses the live name.
    assert sorted(stanzas) == [
        "dists/stable/PKGS/hello-common_1.0_all.deb",
        "dists/stable/PKGS/hello_1.0-1_amd64.deb",
        "dists/stable/PKGS/hello_1.1-1_amd64.deb",
    ]
    stanza = stanzas["dists/stable/PKGS/hello_1.1-1_amd64.deb"]
    assert stanza["head"].startswith("Package: hello\n")
    with open(debs["hello-2"], "rb") as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()
    assert f"SHA256: {sha256}" in stanza["tail"]
    assert f"Size: {os.path.getsize(debs['hello-2'])}" in stanza["tail"]
    assert "\nMD5sum: " in stanza["tail"]  # MD5sum and SHA256, as Debian's archive
    assert "SHA1: " not in stanza["tail"] and "SHA512: " not in stanza["tail"]
    packages = os.path.join(live, "PKGS", "binary-amd64", "Packages")
    with gzip.open(f"{packages}.gz", "rb") as handle, open(packages, "rb") as plain:
        assert handle.read() == plain.read()

    release = read(os.path.join(live, "Release")).splitlines()
    assert release[:3] == ["Architectures: amd64", "Codename: stable", "Components: PKGS"]
    assert release[3].startswith("Date: ") and release[3].endswith(" UTC")
    assert release[4:7] == [
        "Label: migasfree stable repository",
        "Origin: migasfree",
        "Suite: stable",
    ]
    sha256_lines = release[release.index("SHA256:") + 1 : release.index("SHA512:")]
    listed = {line.split()[2]: line.split() for line in sha256_lines}
    assert sorted(listed) == ["PKGS/binary-amd64/Packages", "PKGS/binary-amd64/Packages.gz"]
    for relative, (digest, size, _) in listed.items():
        with open(os.path.join(live, relative), "rb") as handle:
            data = handle.read()
        assert (digest, int(size)) == (hashlib.sha256(data).hexdigest(), len(data))

    keyring = dearmor(build_tree.signer.public_key_path(), os.path.join(client_dir, "k.gpg"))
    assert gpgv(keyring, os.path.join(live, "InRelease")).returncode == 0
    assert gpgv(keyring, f"{live}/Release.gpg", f"{live}/Release").returncode == 0
    assert read(f"{live}/Release.gpg").startswith("-----BEGIN PGP SIGNATURE-----")


def test_several_architectures_each_get_an_index(build_tree, debs):
    live = build_tree.publish("apt", "multi", debs.values(), arch="amd64 i386")
    assert sorted(packages_of(live, "i386")) == [
        "dists/multi/PKGS/hello-common_1.0_all.deb",
        "dists/multi/PKGS/hello-i386_1.0_i386.deb",
    ]
    assert len(packages_of(live, "amd64")) == 3
    assert "Architectures: amd64 i386\n" in read(os.path.join(live, "Release"))


def test_an_empty_deployment_is_a_valid_repository(build_tree):
    live = build_tree.publish("apt", "empty", [])
    assert read(os.path.join(live, "PKGS", "binary-amd64", "Packages")) == ""
    assert os.path.exists(os.path.join(live, "InRelease"))


def test_rebuilds_scan_only_new_or_changed_packages(build_tree, debs, caplog):
    caplog.set_level(logging.INFO, logger="migasfree_pyramid.pms")
    build_tree.publish("apt", "stable", debs.values())
    assert "4 packages, 4 scanned" in caplog.text
    caplog.clear()
    # Another deployment of the project shares the cache.
    build_tree.publish("apt", "testing", [debs["hello-1"], debs["common"]])
    assert "2 packages, 0 scanned" in caplog.text
    caplog.clear()

    # A re-upload replaces the store file (a new inode): its stanza is computed again.
    replaced = make_deb(os.path.dirname(debs["hello-2"]), "hello", "1.1-1", text="rebuilt\n")
    assert replaced == debs["hello-2"]
    live = build_tree.publish("apt", "stable", debs.values())
    assert "4 packages, 1 scanned" in caplog.text
    with open(replaced, "rb") as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()
    assert (
        f"SHA256: {sha256}" in packages_of(live)["dists/stable/PKGS/hello_1.1-1_amd64.deb"]["tail"]
    )


def test_a_store_path_that_is_a_symlink(build_tree, debs):
    elsewhere = os.path.join(os.path.dirname(build_tree.www), "elsewhere")
    os.makedirs(elsewhere)
    target = make_deb(elsewhere, "linked", "1.0")
    link = os.path.join(build_tree.store, "linked_1.0_amd64.deb")
    os.symlink(target, link)
    expected = ["dists/stable/PKGS/hello_1.0-1_amd64.deb", "dists/stable/PKGS/linked_1.0_amd64.deb"]
    # A first build (the stage's links scanned) and a rebuild (a list of the new file).
    assert sorted(packages_of(build_tree.publish("apt", "stable", [link, debs["hello-1"]]))) == (
        expected
    )
    os.unlink(os.path.join(build_tree.cache_dir, "apt-stanzas.json"))
    build_tree.publish("apt", "stable", [debs["hello-1"], debs["hello-2"], debs["common"]])
    files = [link, debs["hello-1"]]
    assert sorted(packages_of(build_tree.publish("apt", "stable", files))) == expected


def test_the_cache_drops_files_that_are_gone(build_tree, debs):
    build_tree.publish("apt", "stable", debs.values())
    os.unlink(debs["i386"])
    del debs["i386"]
    build_tree.publish("apt", "stable", debs.values())
    cache = read(os.path.join(build_tree.cache_dir, "apt-stanzas.json"))
    assert "hello-i386" not in cache
    assert "hello-common" in cache


def test_broken_and_missing_packages_fail_the_build(build_tree, debs):
    broken = os.path.join(build_tree.store, "broken_1.0_amd64.deb")
    with open(broken, "w") as handle:
        handle.write("not a deb")
    ctx = build_tree.context("apt", "stable", [debs["hello-1"], broken])
    with pytest.raises(BuildError, match=r"apt-ftparchive could not read broken_1\.0_amd64\.deb"):
        get_pms("apt").build(ctx)
    missing = os.path.join(build_tree.store, "gone_1.0_amd64.deb")
    ctx = build_tree.context("apt", "stable", [debs["hello-1"]])
    ctx = dataclasses.replace(ctx, packages=((os.path.basename(missing), missing),))
    with pytest.raises(BuildError, match=r"store files missing: gone_1\.0_amd64\.deb"):
        get_pms("apt").build(ctx)
    ctx = build_tree.context("apt", "stable", [], arch="")
    with pytest.raises(BuildError, match="no architecture"):
        get_pms("apt").build(ctx)


def test_release_dates_are_english_whatever_the_locale():
    assert release_date(0) == "Thu, 01 Jan 1970 00:00:00 UTC"


# -- the real apt-get ---------------------------------------------------------------------------


class AptClient:
    """apt-get with a throwaway configuration: nothing of this machine's apt is read or
    written (``APT_CONFIG`` replaces the main file and the ``apt.conf.d`` parts)."""

    def __init__(self, root: str, source_line: str, keyring: str):
        self.root = root
        for folder in ("state/lists/partial", "cache/archives/partial", "parts", "dl"):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        self.config = os.path.join(root, "apt.conf")
        with open(self.config, "w") as handle:
            handle.write(f'Dir::Etc::main "/dev/null";\nDir::Etc::parts "{root}/parts";\n')
        self.sources = os.path.join(root, "sources.list")
        # The line exactly as the client writes it, plus signed-by: no trusted=yes.
        line = source_line.replace("deb ", f"deb [signed-by={keyring}] ", 1)
        with open(self.sources, "w") as handle:
            handle.write(line)

    def __call__(self, *args: str):
        r = self.root
        options = {
            "Dir::Etc::sourcelist": self.sources,
            "Dir::Etc::sourceparts": "-",
            "Dir::State": f"{r}/state",
            "Dir::Cache": f"{r}/cache",
            "Dir::Etc::trusted": f"{r}/trusted.gpg",
            "Dir::Etc::trustedparts": f"{r}/trusted.gpg.d",
            "APT::Get::List-Cleanup": "0",
            "Debug::NoLocking": "1",
            # As root apt drops to _apt to download; our temporary dirs are not its to read.
            "APT::Sandbox::User": "root",
            "APT::Architecture": "amd64",
            "APT::Architectures": "amd64",
        }
        argv = ["apt-get", "-q"]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        env = {**os.environ, "APT_CONFIG": self.config, "LC_ALL": "C"}
        return run([*argv, *args], cwd=f"{r}/dl", env=env)


@pytest.fixture
def apt_client(build_tree, static_server, client_dir):
    if missing_tools("apt-get"):
        pytest.skip("missing tools: apt-get")
    keyring = dearmor(build_tree.signer.public_key_path(), os.path.join(client_dir, "repo.gpg"))

    def make(slug: str, name: str = "client") -> AptClient:
        line = build_tree.source("apt", slug, static_server)
        assert line == f"deb http://{static_server}/pub/proj/repos {slug} PKGS\n"
        return AptClient(os.path.join(client_dir, name), line, keyring)

    return make


def test_apt_get_updates_and_downloads_with_the_signature_checked(build_tree, debs, apt_client):
    build_tree.publish("apt", "stable", debs.values())
    apt = apt_client("stable")
    update = apt("update")
    assert update.returncode == 0, update.stdout + update.stderr
    assert "W:" not in update.stderr and "E:" not in update.stderr, update.stderr
    download = apt("download", "hello", "hello-common")
    assert download.returncode == 0, download.stdout + download.stderr
    fetched = sorted(os.listdir(f"{apt.root}/dl"))
    assert fetched == ["hello-common_1.0_all.deb", "hello_1.1-1_amd64.deb"]  # the newest hello
    assert same_bytes(f"{apt.root}/dl/hello_1.1-1_amd64.deb", debs["hello-2"])
    older = apt("download", "hello=1.0-1")
    assert older.returncode == 0, older.stderr
    assert same_bytes(f"{apt.root}/dl/hello_1.0-1_amd64.deb", debs["hello-1"])


def test_a_rebuilt_repository_is_seen_by_apt(build_tree, debs, apt_client):
    build_tree.publish("apt", "stable", [debs["hello-1"]])
    apt = apt_client("stable")
    assert apt("update").returncode == 0
    # HTTP dates have whole seconds: a rebuild within the second of the last fetch would be
    # answered 304 Not Modified (by any web server), so wait for the next second.
    time.sleep(1.01 - time.time() % 1)
    build_tree.publish("apt", "stable", [debs["hello-1"], debs["hello-2"]])
    assert apt("update").returncode == 0
    assert apt("download", "hello").returncode == 0
    assert os.listdir(f"{apt.root}/dl") == ["hello_1.1-1_amd64.deb"]


def test_a_tampered_release_makes_apt_get_update_fail(build_tree, debs, apt_client):
    live = build_tree.publish("apt", "stable", debs.values())
    for name in ("InRelease", "Release"):
        path = os.path.join(live, name)
        text = read(path).replace("Label: migasfree stable", "Label: evil stable")
        with open(path, "w") as handle:
            handle.write(text)
    apt = apt_client("stable")
    update = apt("update")
    assert update.returncode != 0
    assert "signature" in update.stderr.lower() or "not signed" in update.stderr, update.stderr
    assert apt("download", "hello").returncode != 0


def test_a_tampered_index_makes_apt_get_update_fail(build_tree, debs, apt_client):
    live = build_tree.publish("apt", "stable", debs.values())
    packages = os.path.join(live, "PKGS", "binary-amd64", "Packages")
    tampered = read(packages).replace("Package: hello-common", "Package: evil")
    with open(packages, "w") as plain, open(f"{packages}.gz", "wb") as compressed:
        plain.write(tampered)
        compressed.write(gzip.compress(tampered.encode()))
    update = apt_client("stable")("update")
    assert update.returncode != 0
    assert "Hash Sum mismatch" in update.stderr or "hash" in update.stderr.lower(), update.stderr


def test_a_repository_signed_by_another_key_is_refused(build_tree, debs, apt_client, copied_keys):
    if not os.path.exists(FIXTURE_SECRET):
        pytest.skip(f"fixture key missing: {FIXTURE_SECRET}")
    with open(FIXTURE_SECRET) as handle:
        import_repository_key(copied_keys, handle.read())
    client = apt_client("stable")  # trusts the session key only
    build_tree.signer = Signer(copied_keys)
    build_tree.publish("apt", "stable", debs.values())
    update = client("update")
    assert update.returncode != 0
    assert "NO_PUBKEY" in update.stderr or "not signed" in update.stderr, update.stderr
