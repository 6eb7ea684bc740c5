"""Debian and derivatives (apt).

A repository is ``<repos>/dists/<slug>/`` with ``PKGS/binary-<arch>/Packages(.gz)``, a
``Release`` listing the index files' checksums, ``InRelease`` (clearsigned) and ``Release.gpg``
(armored detached); clients use ``deb <url>/repos <slug> PKGS`` (repositories.md 1.3).

Package stanzas come from ``apt-ftparchive`` and are cached per store file
(``building.PackageCache``), so a rebuild scans only new or changed packages. Their
``Filename`` is rewritten to ``dists/<slug>/PKGS/<file>``, the live name, never the stage's.
A first build scans the stage's ``PKGS/`` links in one apt-ftparchive run; a rebuild scans
only the new or changed files, listed for ``apt-ftparchive generate``. Unlike the
original, ``Release`` lists only the index files, not every ``.deb`` (apt never reads those
lines, and hashing every package four times was most of the original's build time).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from ..crypto.gpg import SignRequest
from .base import COMPONENT, BuildContext, BuildError, DeploymentInfo, PackageManager
from .building import (
    PackageCache,
    StatKey,
    checked_packages,
    ensure_dir,
    log,
    pkgs_dir,
    run_tool,
    sign,
    tail,
    write_public,
)

# Package stanzas carry MD5sum and SHA256, as Debian's own archive does: apt verifies the
# strongest hash, and hashing every package twice more (SHA1, SHA512) only costs build time.
HASH_OPTIONS = ("-o", "APT::FTPArchive::SHA1=false", "-o", "APT::FTPArchive::SHA512=false")
GZIP_LEVEL = 3  # 4 % larger than -9 on Packages files, and three times faster
CHUNK = 100  # packages per apt-ftparchive process below which splitting costs more than it saves
HASHES = (("MD5Sum", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"), ("SHA512", "sha512"))
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def release_date(epoch: float) -> str:
    """RFC 2822 date in UTC with English names whatever the locale (apt parses it)."""
    t = time.gmtime(epoch)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC"
    )


def parse_stanzas(text: str) -> dict[str, dict]:
    """``apt-ftparchive packages`` output by Filename: architecture, and the stanza's lines
    before and after the Filename field (which each repository writes with its own path)."""
    stanzas = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        where = [i for i, line in enumerate(lines) if line.startswith("Filename: ")]
        if not where:
            continue
        at = where[0]
        arch = next((ln[14:].strip() for ln in lines if ln.startswith("Architecture: ")), "")
        stanzas[lines[at][10:].strip()] = {
            "arch": arch,
            "head": "\n".join(lines[:at]),
            "tail": "\n".join(lines[at + 1 :]),
        }
    return stanzas


class Apt(PackageManager):
    name = "apt"
    module = "migasfree_pyramid.pms.apt"
    extensions = ("deb", "udeb")  # udeb: the installer's packages, served by the same pools
    mimetypes = ("application/x-debian-package", "application/vnd.debian.binary-package")
    architectures = (
        "alpha",
        "all",
        "amd64",
        "arm",
        "arm64",
        "armel",
        "armhf",
        "avr32",
        "hppa",
        "hurd-i386",
        "i386",
        "ia64",
        "kfreebsd-amd64",
        "kfreebsd-i386",
        "loong64",
        "m68k",
        "mips",
        "mips64el",
        "mipsel",
        "powerpc",
        "powerpcspe",
        "ppc64",
        "ppc64el",
        "riscv64",
        "s390",
        "s390x",
        "sh4",
        "sparc",
        "sparc64",
        "x32",
    )
    relative_path = "repos/dists"

    def build(self, ctx: BuildContext) -> None:
        arches = ctx.architecture.split()
        if not arches:
            raise BuildError("the project has no architecture; apt needs one (e.g. amd64)")
        packages = checked_packages(ctx)
        cache = PackageCache(ctx.cache_dir, "apt-stanzas").load()
        stanzas, unknown = {}, []
        for fullname, path, key in packages:
            entry = cache.get(path, key)
            if entry is None:
                unknown.append((fullname, path, key))
            else:
                stanzas[fullname] = entry
        if unknown:
            # A first build reads the stage's links in one run (no scratch files; apt-ftparchive
            # is cheapest on a directory); a rebuild lists just the new or changed files.
            folder = ctx.pkgs_dir if len(unknown) * 2 > len(packages) else None
            for (fullname, path, key), entry in zip(
                unknown, scan_packages(unknown, ctx.cache_dir, folder), strict=True
            ):
                cache.put(path, key, entry)
                stanzas[fullname] = entry
        log.info("apt %s: %d packages, %d scanned", ctx.live_name, len(packages), len(unknown))
        # Saving the cache overlaps the index writing and signing (mostly waiting for gpg).
        with ThreadPoolExecutor(max_workers=1) as pool:
            saved = pool.submit(cache.save, {path for _, path, _ in packages})
            self.write_indexes(ctx, arches, stanzas)
            saved.result()

    def write_indexes(self, ctx: BuildContext, arches: list[str], stanzas: dict) -> None:
        """Packages(.gz) per architecture (with its ``all`` packages), Release and signatures."""
        prefix = f"dists/{ctx.live_name}/{COMPONENT}/"
        pkgs_dir(ctx)
        indexes: list[tuple[str, bytes]] = []
        for arch in arches:
            blocks = []
            for fullname in sorted(stanzas):
                entry = stanzas[fullname]
                if entry["arch"] in (arch, "all"):
                    fields = [entry["head"], f"Filename: {prefix}{fullname}", entry["tail"]]
                    blocks.append("\n".join(f for f in fields if f) + "\n")
            data = "\n".join(blocks).encode("utf-8", "surrogateescape")
            relative = f"{COMPONENT}/binary-{arch}"
            ensure_dir(os.path.join(ctx.stage_dir, relative))
            indexes.append((f"{relative}/Packages", data))
            indexes.append((f"{relative}/Packages.gz", gzip.compress(data, GZIP_LEVEL, mtime=0)))
        for relative, data in indexes:
            write_public(os.path.join(ctx.stage_dir, relative), data)
        release = os.path.join(ctx.stage_dir, "Release")
        write_public(release, self.release(ctx.live_name, arches, indexes).encode())
        sign(
            ctx,
            SignRequest(release, os.path.join(ctx.stage_dir, "InRelease"), "clear"),
            SignRequest(release, os.path.join(ctx.stage_dir, "Release.gpg"), "armor"),
        )

    @staticmethod
    def release(slug: str, arches: list[str], indexes: list[tuple[str, bytes]]) -> str:
        # The original's fields, in its order; no Valid-Until (a repository that is not
        # rebuilt for a while must stay usable) and no Acquire-By-Hash (indexes are swapped
        # atomically with the whole directory).
        lines = [
            f"Architectures: {' '.join(arches)}",
            f"Codename: {slug}",
            f"Components: {COMPONENT}",
            f"Date: {release_date(time.time())}",
            f"Label: migasfree {slug} repository",
            "Origin: migasfree",
            f"Suite: {slug}",
        ]
        for field, algorithm in HASHES:
            lines.append(f"{field}:")
            for relative, data in sorted(indexes):
                digest = hashlib.new(algorithm, data).hexdigest()
                lines.append(f" {digest} {len(data):>16} {relative}")
        return "\n".join(lines) + "\n"

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return f"deb {self.internal_url(public_url, dep)} {dep.slug} {COMPONENT}\n"

    def external_template(self, dep: DeploymentInfo) -> str:
        # The original writes a double space when there are no options; apt accepts both, and we
        # keep the byte-exact line because clients compare repository files between syncs.
        return (
            f"deb {dep.options or ''} {self.external_url(dep)} "
            f"{dep.suite or ''} {dep.components or ''}\n"
        )


def scan_jobs() -> int:
    """How many apt-ftparchive processes a cold scan may run at once."""
    return os.cpu_count() or 1


def _quote(path: str) -> str:
    if '"' in path or "\n" in path:
        raise BuildError(f"unusable path for apt-ftparchive: {path!r}")
    return f'"{path}"'


def _scan_lists(packages: list[tuple[str, str, StatKey]], scratch: str) -> list[tuple]:
    """``apt-ftparchive generate`` over file lists (no symlink per package), in parallel."""
    jobs = max(1, min(scan_jobs(), math.ceil(len(packages) / CHUNK)))
    for chunk in range(jobs):
        base = os.path.join(scratch, f"c{chunk}")
        with open(f"{base}.list", "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.writelines(f"{path}\n" for _, path, _ in packages[chunk::jobs])
        with open(f"{base}.conf", "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(
                f"Dir {{ ArchiveDir {_quote(scratch)}; CacheDir {_quote(scratch)}; }};\n"
                'Default { Packages::Compress "."; };\n'
                f'BinDirectory "." {{ Packages {_quote(base + ".packages")}; '
                f"FileList {_quote(base + '.list')}; }};\n"
            )

    def scan(chunk: int) -> tuple[bytes, bytes]:
        argv = ["apt-ftparchive", "-q", *HASH_OPTIONS, "generate", f"c{chunk}.conf"]
        result = run_tool(argv, cwd=scratch, package="apt-utils")
        with open(os.path.join(scratch, f"c{chunk}.packages"), "rb") as handle:
            return handle.read(), result.stderr

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(scan, range(jobs)))


def scan_packages(
    packages: list[tuple[str, str, StatKey]], work_dir: str, folder: str | None = None
) -> list[dict]:
    """Stanzas of ``packages`` (in order) from apt-ftparchive: over ``folder`` (a directory
    linking them) if given, then over file lists for any it did not give. A file apt-ftparchive
    cannot read is a ``BuildError``."""
    by_path = {path: index for index, (_, path, _) in enumerate(packages)}
    by_real: dict[str, int] = {}
    stanzas: list[dict | None] = [None] * len(packages)
    errors: list[bytes] = []

    def collect(output: bytes, stderr: bytes, cwd: str) -> None:
        errors.append(stderr)
        for filename, stanza in parse_stanzas(output.decode("utf-8", "surrogateescape")).items():
            index = by_path.get(filename)
            if index is None:  # a link's path or, depending on the link, its resolved target
                if not by_real:
                    by_real.update((os.path.realpath(p), i) for p, i in by_path.items())
                index = by_real.get(os.path.realpath(os.path.join(cwd, filename)))
            if index is not None:
                stanzas[index] = stanza

    scratch = tempfile.mkdtemp(dir=work_dir, prefix=".apt-scan-")
    try:
        if folder is not None and os.path.isdir(folder):
            parent, output = os.path.dirname(folder), os.path.join(scratch, "Packages")
            argv = ["apt-ftparchive", *HASH_OPTIONS, "packages", os.path.basename(folder)]
            result = run_tool(argv, cwd=parent, package="apt-utils", stdout_path=output)
            with open(output, "rb") as handle:
                collect(handle.read(), result.stderr, parent)
        rest = [packages[i] for i, stanza in enumerate(stanzas) if stanza is None]
        if rest:
            for output, stderr in _scan_lists(rest, scratch):
                collect(output, stderr, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    missing = [packages[i][0] for i, stanza in enumerate(stanzas) if stanza is None]
    if missing:
        detail = "; ".join(tail(stderr, 5) for stderr in errors)
        raise BuildError(f"apt-ftparchive could not read {', '.join(missing[:10])}: {detail}")
    return stanzas  # type: ignore[return-value] (no None left)
