"""Windows packages (wpt).

A repository is ``<repos>/<slug>/`` with ``PKGS/*.tar.gz``, ``packages.json`` (``{name:
{version: {"metadata", "filename": "PKGS/<file>", "hash": "<sha256>"}}}``, read from each
package's ``pms/metadata.json``) and ``packages.json.sig`` (armored detached), which the wpt
client verifies. Each package is read once: its metadata and hash are cached per store file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile

from ..crypto.gpg import SignRequest
from .base import COMPONENT, BuildContext, BuildError, DeploymentInfo, PackageManager
from .building import PackageCache, checked_packages, log, pkgs_dir, sign, write_public

METADATA = "pms/metadata.json"


def read_metadata(path: str) -> dict:
    """``pms/metadata.json`` of a wpt package (read in memory: nothing is extracted)."""
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                if member.name.removeprefix("./") == METADATA and member.isfile():
                    handle = archive.extractfile(member)
                    metadata = json.load(handle) if handle else None
                    break
            else:
                raise BuildError(f"{os.path.basename(path)}: no {METADATA}")
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise BuildError(f"{os.path.basename(path)}: unreadable wpt package ({error})") from error
    if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("version"):
        raise BuildError(f"{os.path.basename(path)}: {METADATA} needs a name and a version")
    return metadata


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Wpt(PackageManager):
    name = "wpt"
    module = "migasfree_pyramid.pms.wpt"
    # The wpt archive, and the installers Windows packagers upload next to it.
    extensions = ("tar.gz", "msi", "msix", "exe", "zip", "nupkg")
    mimetypes = ("application/gzip", "application/x-gzip")
    architectures = ("x64",)

    def build(self, ctx: BuildContext) -> None:
        packages = checked_packages(ctx)
        cache = PackageCache(ctx.cache_dir, "wpt-entries").load()
        index: dict[str, dict] = {}
        scanned = 0
        for fullname, path, key in packages:
            entry = cache.get(path, key)
            if entry is None:
                entry = {"metadata": read_metadata(path), "hash": sha256_file(path)}
                cache.put(path, key, entry)
                scanned += 1
            metadata = entry["metadata"]
            index.setdefault(str(metadata["name"]), {})[str(metadata["version"])] = {
                "metadata": metadata,
                "filename": f"{COMPONENT}/{fullname}",
                "hash": entry["hash"],
            }
        cache.save({path for _, path, _ in packages})
        log.info("wpt %s: %d packages, %d read", ctx.live_name, len(packages), scanned)
        pkgs_dir(ctx)
        target = os.path.join(ctx.stage_dir, "packages.json")
        write_public(target, json.dumps(index, indent=2, sort_keys=True).encode())
        sign(ctx, SignRequest(target, f"{target}.sig", "armor"))

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return f"{self.internal_url(public_url, dep)}/{dep.slug} {COMPONENT}\n"

    def external_template(self, dep: DeploymentInfo) -> str:
        return f"{self.external_url(dep)} {dep.suite or ''} {dep.components or ''}\n"
