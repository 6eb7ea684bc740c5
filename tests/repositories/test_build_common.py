"""The build interface shared by every package manager: live paths, the context, apk's refusal,
and the helpers (tool errors, package checks, the per-package cache)."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from migasfree_pyramid.crypto.gpg import GpgError
from migasfree_pyramid.pms import AVAILABLE_PMS, get_pms
from migasfree_pyramid.pms.base import BuildContext, BuildError
from migasfree_pyramid.pms.building import PackageCache, checked_packages, run_tool, stat_key


def context(tmp_path, packages=(), **changes) -> BuildContext:
    ctx = BuildContext(
        stage_dir=str(tmp_path / "stage"),
        live_name="stable",
        repos_root=str(tmp_path / "repos"),
        architecture="amd64",
        packages=tuple(packages),
        signer=None,
        cache_dir=str(tmp_path / "cache"),
    )
    return dataclasses.replace(ctx, **changes)


@pytest.mark.parametrize(
    ("pms_name", "relative"),
    [
        ("apt", "repos/dists/stable"),
        ("yum", "repos/stable"),
        ("dnf", "repos/stable"),
        ("zypper", "repos/stable"),
        ("pacman", "repos/stable"),
        ("wpt", "repos/stable"),
        ("apk", "repos/stable"),
    ],
)
def test_live_paths(pms_name, relative):
    assert get_pms(pms_name).live_path("/pub", "proj", "stable") == f"/pub/proj/{relative}"


def test_every_registered_pms_builds_or_says_why(tmp_path):
    assert set(AVAILABLE_PMS) == {"apk", "apt", "dnf", "pacman", "wpt", "yum", "zypper"}
    with pytest.raises(BuildError, match="apk repositories are not supported yet"):
        get_pms("apk").build(context(tmp_path))


def test_the_context_is_frozen(tmp_path):
    ctx = context(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.live_name = "other"  # type: ignore[misc]
    assert ctx.pkgs_dir == str(tmp_path / "stage" / "PKGS")


def test_package_checks(tmp_path):
    present = tmp_path / "b.deb"
    present.write_text("x")
    other = tmp_path / "a.deb"
    other.write_text("y")
    checked = checked_packages(context(tmp_path, [("b.deb", str(present)), ("a.deb", str(other))]))
    assert [name for name, _, _ in checked] == ["a.deb", "b.deb"]
    assert checked[1][2] == stat_key(str(present))
    for bad in ([("b.deb", str(present))] * 2, [("../b.deb", str(present))], [(".x", str(other))]):
        with pytest.raises(BuildError, match="invalid or duplicate package file name"):
            checked_packages(context(tmp_path, bad))
    with pytest.raises(BuildError, match=r"store files missing: c\.deb"):
        checked_packages(context(tmp_path, [("c.deb", str(tmp_path / "c.deb"))]))


def test_tool_errors_name_the_tool_and_the_package():
    with pytest.raises(BuildError, match=r"no-such-tool is not installed \(Debian package x\)"):
        run_tool(["no-such-tool"], package="x")
    with pytest.raises(BuildError, match=r"sh failed \(3\): boom"):
        run_tool(["sh", "-c", "echo boom >&2; exit 3"])


def test_the_cache_trusts_an_entry_only_while_the_file_is_unchanged(tmp_path):
    path = tmp_path / "p.deb"
    path.write_text("one")
    key = stat_key(str(path))
    cache = PackageCache(str(tmp_path / "cache"), "t").load()
    cache.put(str(path), key, {"v": 1})
    cache.save({str(path)})
    again = PackageCache(str(tmp_path / "cache"), "t").load()
    assert again.get(str(path), key) == {"v": 1}
    path.write_text("two!")  # another size and mtime
    assert again.get(str(path), stat_key(str(path))) is None


def test_concurrent_savers_merge_and_gone_files_are_dropped(tmp_path):
    files = []
    for name in ("a", "b", "gone"):
        (tmp_path / name).write_text(name)
        files.append(str(tmp_path / name))
    first = PackageCache(str(tmp_path / "cache"), "t").load()
    second = PackageCache(str(tmp_path / "cache"), "t").load()
    first.put(files[0], stat_key(files[0]), "a")
    first.put(files[2], stat_key(files[2]), "gone")
    first.save({files[0], files[2]})
    second.put(files[1], stat_key(files[1]), "b")
    os.unlink(files[2])
    second.save({files[1]})
    with open(tmp_path / "cache" / "t.json") as handle:
        entries = json.load(handle)["entries"]
    assert sorted(entries) == [files[0], files[1]]


def test_a_damaged_cache_is_ignored(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "t.json").write_text("{not json")
    assert PackageCache(str(tmp_path / "cache"), "t").load().entries == {}


def test_a_signing_failure_is_a_build_error(tmp_path):
    class BrokenSigner:
        def sign(self, requests):
            raise GpgError("gpg failed (2): no secret key")

    ctx = context(tmp_path, signer=BrokenSigner())
    with pytest.raises(BuildError, match=r"signing failed: gpg failed \(2\): no secret key"):
        get_pms("wpt").build(ctx)
