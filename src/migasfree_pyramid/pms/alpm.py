"""Reading pacman packages and writing pacman sync databases (``<repo>.db`` / ``<repo>.files``).

We write the databases ourselves instead of running ``repo-add``: on Debian 12 ``repo-add``
sources ``/usr/share/makepkg/util/*.sh`` from the separate ``makepkg`` package and fails without
it, and it forks a dozen processes per package on every run. Here a package is read once
(``.PKGINFO`` and its file list; ``zstd`` decompresses ``.pkg.tar.zst``) and its entry is cached
per store file, so a rebuild reads only new or changed packages.

The format is what libalpm reads: a tar archive of ``<name>-<version>/desc`` entries (plus
``files`` in the ``.files`` database), each field written as ``%FIELD%``, its values one per
line, then a blank line.
"""

from __future__ import annotations

import io
import subprocess
import tarfile

from .base import BuildError

# desc fields from .PKGINFO keys, in repo-add's order; None = computed by the builder.
DESC_FIELDS = (
    ("FILENAME", None),
    ("NAME", "pkgname"),
    ("BASE", "pkgbase"),
    ("VERSION", "pkgver"),
    ("DESC", "pkgdesc"),
    ("GROUPS", "group"),
    ("CSIZE", None),
    ("ISIZE", "size"),
    ("MD5SUM", None),
    ("SHA256SUM", None),
    ("URL", "url"),
    ("LICENSE", "license"),
    ("ARCH", "arch"),
    ("BUILDDATE", "builddate"),
    ("PACKAGER", "packager"),
    ("REPLACES", "replaces"),
    ("CONFLICTS", "conflict"),
    ("PROVIDES", "provides"),
    ("DEPENDS", "depend"),
    ("OPTDEPENDS", "optdepend"),
    ("MAKEDEPENDS", "makedepend"),
    ("CHECKDEPENDS", "checkdepend"),
)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def parse_pkginfo(text: str) -> dict[str, list[str]]:
    """``key = value`` lines (keys repeat for lists; ``#`` starts a comment line)."""
    info: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or " = " not in line:
            continue
        key, value = line.split(" = ", 1)
        info.setdefault(key.strip(), []).append(value.strip())
    return info


def _members(archive: tarfile.TarFile, path: str) -> tuple[str | None, list[str]]:
    pkginfo, files = None, set()
    for member in archive:
        name = member.name.removeprefix("./")
        if name == ".PKGINFO":
            handle = archive.extractfile(member)
            if handle is None:
                raise BuildError(f"{path}: .PKGINFO is not a file")
            pkginfo = handle.read().decode("utf-8", "replace")
        elif name and not name.startswith("."):
            files.add(f"{name}/" if member.isdir() else name)
    return pkginfo, sorted(files)


def read_package(path: str) -> tuple[dict[str, list[str]], list[str]]:
    """``.PKGINFO`` fields and the file list of a pacman package (zstd, xz, gzip, bzip2 or
    plain tar). Not a readable package: ``BuildError``."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    try:
        if magic == ZSTD_MAGIC:
            with subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                ["zstd", "-dcq", path],  # noqa: S607 (a tool from PATH, like every build tool)
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            ) as proc:
                assert proc.stdout is not None
                with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                    pkginfo, files = _members(archive, path)
                proc.stdout.read()  # drain, so zstd exits cleanly
            if proc.returncode != 0:
                raise BuildError(f"{path}: zstd failed to decompress it")
        else:
            with tarfile.open(path, mode="r:*") as archive:
                pkginfo, files = _members(archive, path)
    except FileNotFoundError as error:
        raise BuildError("zstd is not installed (Debian package zstd)") from error
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BuildError(f"{path}: not a pacman package ({error})") from error
    if pkginfo is None:
        raise BuildError(f"{path}: not a pacman package (no .PKGINFO)")
    info = parse_pkginfo(pkginfo)
    for key in ("pkgname", "pkgver"):
        if not info.get(key):
            raise BuildError(f"{path}: .PKGINFO has no {key}")
    return info, files


def desc_fields(info: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """The desc fields that come from .PKGINFO (the builder adds file name, sizes, sums)."""
    fields = []
    for field, key in DESC_FIELDS:
        if key is None:
            fields.append((field, []))
            continue
        values = info.get(key, [])
        if field == "BASE" and not values:
            values = info["pkgname"]
        fields.append((field, values))
    return fields


def render_desc(fields: list[tuple[str, list[str]]], computed: dict[str, str]) -> str:
    out = []
    for field, values in fields:
        values = [computed[field]] if field in computed else values
        if values:
            out.append(f"%{field}%\n" + "".join(f"{value}\n" for value in values) + "\n")
    return "".join(out)


def write_db(entries: list[tuple[str, str, list[str] | None]]) -> bytes:
    """A gzip tar database of ``(dirname, desc, files)`` entries; ``files`` None for the plain
    ``.db``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as archive:
        for dirname, desc, files in sorted(entries, key=lambda entry: entry[0]):
            folder = tarfile.TarInfo(dirname)
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(folder)
            parts = [("desc", desc)]
            if files is not None:
                parts.append(("files", "%FILES%\n" + "".join(f"{name}\n" for name in files)))
            for name, text in parts:
                data = text.encode("utf-8")
                member = tarfile.TarInfo(f"{dirname}/{name}")
                member.size, member.mode = len(data), 0o644
                archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def _split_evr(version: str) -> tuple[str, str, str | None]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    if not epoch.isdigit():
        epoch = "0"
    ver, dash, rel = rest.rpartition("-")
    return epoch, (ver if dash else rest), (rel if dash else None)


def _segments_cmp(a: str, b: str) -> int:
    """libalpm's rpmvercmp: alternate numeric and alphabetic segments, numbers compare by
    value and beat letters, a trailing letter segment is older (1.0a < 1.0)."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) and j < len(b):
        si, sj = i, j
        while i < len(a) and not a[i].isalnum():
            i += 1
        while j < len(b) and not b[j].isalnum():
            j += 1
        if i >= len(a) or j >= len(b):
            break
        if (i - si) != (j - sj):
            return -1 if (i - si) < (j - sj) else 1
        numeric = a[i].isdigit()
        start_i, start_j = i, j
        test = str.isdigit if numeric else str.isalpha
        while i < len(a) and test(a[i]):
            i += 1
        while j < len(b) and test(b[j]):
            j += 1
        left, right = a[start_i:i], b[start_j:j]
        if not right:
            return 1 if numeric else -1
        if numeric:
            left, right = left.lstrip("0"), right.lstrip("0")
            if len(left) != len(right):
                return -1 if len(left) < len(right) else 1
        if left != right:
            return -1 if left < right else 1
    rest_a, rest_b = a[i:], b[j:]
    if not rest_a and not rest_b:
        return 0
    if (not rest_a and not rest_b[:1].isalpha()) or rest_a[:1].isalpha():
        return -1
    return 1


def vercmp(a: str, b: str) -> int:
    """Compare two pacman versions (``[epoch:]version[-release]``): -1, 0 or 1."""
    if a == b:
        return 0
    ea, va, ra = _split_evr(a)
    eb, vb, rb = _split_evr(b)
    result = _segments_cmp(ea, eb) or _segments_cmp(va, vb)
    if result == 0 and ra is not None and rb is not None:
        result = _segments_cmp(ra, rb)
    return result
