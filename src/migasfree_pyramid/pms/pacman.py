"""Arch Linux and derivatives (pacman).

A repository is ``<repos>/<slug>/PKGS/`` holding the packages, ``<slug>.db.tar.gz`` and
``<slug>.files.tar.gz`` (``alpm.write_db``), their binary detached signatures (``.sig``, what
pacman verifies) and the names pacman downloads as symlinks: ``<slug>.db``, ``<slug>.files``,
``<slug>.db.sig``, ``<slug>.files.sig``. A deployment without packages gets empty databases,
not none (repositories.md Q13: clients fail on a missing database).

A database holds one entry per package name; when a deployment has several versions of one
name, the highest (libalpm's ordering) is listed, as ``repo-add`` leaves it.
"""

from __future__ import annotations

import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from ..crypto.gpg import SignRequest
from . import alpm
from .base import COMPONENT, BuildContext, DeploymentInfo, PackageManager
from .building import PackageCache, checked_packages, log, pkgs_dir, sign, write_public


def _digests(path: str) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def read_entry(path: str) -> dict:
    """What the databases need of one package file (cached per store file)."""
    info, files = alpm.read_package(path)
    md5, sha256 = _digests(path)
    return {
        "name": info["pkgname"][0],
        "version": info["pkgver"][0],
        "fields": alpm.desc_fields(info),
        "md5": md5,
        "sha256": sha256,
        "files": files,
    }


class Pacman(PackageManager):
    name = "pacman"
    module = "migasfree_pyramid.pms.pacman"
    extensions = ("pkg", "pkg.tar.zst", "pkg.tar.gz", "pkg.tar.xz")
    mimetypes = (
        "application/x-alpm-package",
        "application/x-zstd-compressed-alpm-package",
        "application/x-gtar",
    )
    architectures = ("any", "x86_64")

    def build(self, ctx: BuildContext) -> None:
        packages = checked_packages(ctx)
        cache = PackageCache(ctx.cache_dir, "pacman-entries").load()
        entries: dict[str, dict] = {}
        unknown = []
        for fullname, path, key in packages:
            entry = cache.get(path, key)
            if entry is None:
                unknown.append((fullname, path, key))
            else:
                entries[fullname] = entry
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            read = list(pool.map(read_entry, [path for _, path, _ in unknown]))
        for (fullname, path, key), entry in zip(unknown, read, strict=True):
            cache.put(path, key, entry)
            entries[fullname] = entry
        cache.save({path for _, path, _ in packages})
        sizes = {fullname: key[0] for fullname, _, key in packages}
        log.info("pacman %s: %d packages, %d read", ctx.live_name, len(packages), len(unknown))
        self.write_databases(ctx, entries, sizes)

    def write_databases(self, ctx: BuildContext, entries: dict[str, dict], sizes: dict) -> None:
        chosen: dict[str, tuple[str, dict]] = {}
        newer = functools.cmp_to_key(alpm.vercmp)
        for fullname in sorted(entries):
            entry = entries[fullname]
            current = chosen.get(entry["name"])
            if current is None or newer(entry["version"]) > newer(current[1]["version"]):
                chosen[entry["name"]] = (fullname, entry)
        db_entries, files_entries = [], []
        for fullname, entry in chosen.values():
            desc = alpm.render_desc(
                entry["fields"],
                {
                    "FILENAME": fullname,
                    "CSIZE": str(sizes[fullname]),
                    "MD5SUM": entry["md5"],
                    "SHA256SUM": entry["sha256"],
                },
            )
            dirname = f"{entry['name']}-{entry['version']}"
            db_entries.append((dirname, desc, None))
            files_entries.append((dirname, desc, entry["files"]))
        folder = pkgs_dir(ctx)
        requests = []
        for kind, items in (("db", db_entries), ("files", files_entries)):
            archive = f"{ctx.live_name}.{kind}.tar.gz"
            write_public(os.path.join(folder, archive), alpm.write_db(items))
            os.symlink(archive, os.path.join(folder, f"{ctx.live_name}.{kind}"))
            os.symlink(f"{archive}.sig", os.path.join(folder, f"{ctx.live_name}.{kind}.sig"))
            path = os.path.join(folder, archive)
            requests.append(SignRequest(path, f"{path}.sig", "binary"))
        sign(ctx, *requests)

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return (
            f"[{dep.slug}]\n"
            "SigLevel = Optional TrustAll PackageTrustAll\n"
            f"Server = {self.internal_url(public_url, dep)}/{dep.slug}/{COMPONENT}\n\n"
        )

    def external_template(self, dep: DeploymentInfo) -> str:
        return f"[{dep.slug}]\nServer = {self.external_url(dep)}\n\n"
