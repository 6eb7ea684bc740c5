"""Package files: names, store paths, safe uploads and copies (spec A.1.7, B.13).

A store's files live at ``<public_dir>/<project slug>/stores/<store slug>/<fullname>``. Files are
written to a hidden temporary file in the target directory and then renamed over the final name
(``os.replace``), so a reader (the web server, a repository build) never sees half a file.

Files are written after the rows they belong to have been flushed, so a validation error or a
unique-constraint race never leaves a file behind. When the transaction fails *later* (after the
write) the file stays in the store without a row; the next upload of that name replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..api.errors import bad_request, validation_error
from ..api.related import load_row
from ..models import Package, Project, Store
from ..pms import all_architectures, all_extensions
from ..text import slugify

log = logging.getLogger(__name__)

STORES_DIR = "stores"
MAX_FULLNAME = 270
CHUNK = 1024 * 1024


# Every package manager's file extensions and architectures (pms/), longest first: file-name
# parsing tries them in order, so ``pkg.tar.zst`` is dropped whole and ``x86_64`` wins over ``x86``.
EXTENSIONS = tuple(all_extensions())
ARCHITECTURES = tuple(all_architectures())
SEPARATORS = "_.-"
DEBIAN_VERSION = re.compile(r"^\d[\d:.+~a-zA-Z-]*$")
VERSION_START = re.compile(r"[_.-](?=[\d:])")


def normalized_name(filename: str) -> tuple[str, str, str]:
    """``(name, version, architecture)`` read from a package file name ('' when unknown).

    Steps (spec A.1.7): drop a known extension (longest first); drop a known architecture
    suffix with its separator (longest first); if one ``_`` is left and the right side looks like
    a Debian version, split there; else the version starts at the first ``_``, ``.`` or ``-``
    followed by a digit or ``:``; else the whole rest is the name.

    Two fixes over the original: the architecture must follow a separator (``tools-small`` does
    not end in the architecture ``all``), and a Debian version must start with a digit, as
    Debian policy requires (``my_tool`` is a name, not name ``my`` version ``tool``).
    """
    rest = filename
    lowered = filename.lower()
    for ext in EXTENSIONS:
        if lowered.endswith("." + ext) and len(filename) > len(ext) + 1:
            rest = filename[: -len(ext) - 1]
            break
    arch = ""
    for candidate in ARCHITECTURES:
        head = rest[: -len(candidate)]
        if rest.endswith(candidate) and len(head) > 1 and head[-1] in SEPARATORS:
            rest, arch = head[:-1], candidate
            break
    if rest.count("_") == 1:
        name, version = rest.split("_")
        if DEBIAN_VERSION.match(version):
            return name, version, arch
    match = VERSION_START.search(rest)
    if match:
        return rest[: match.start()].rstrip(SEPARATORS), rest[match.end() :], arch
    return rest, "", arch


def check_filename(filename: str, field: str = "files") -> str:
    """The file name itself when it is safe as a store file name, else a 400 naming ``field``."""
    problem = None
    if not filename:
        problem = "The file has no name."
    elif "/" in filename or "\\" in filename:
        problem = "must not contain path separators"
    elif ".." in filename:
        problem = "must not contain '..'"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        problem = "must not contain control characters"
    elif filename.startswith("."):
        problem = "must not start with a dot"
    elif len(filename) > MAX_FULLNAME:
        problem = f"must have at most {MAX_FULLNAME} characters"
    if problem and filename:
        problem = f"Invalid file name {filename!r}: {problem}."
    if problem:
        raise validation_error({field: problem})
    return filename


# -- paths -------------------------------------------------------------------------------------


def public_dir(request) -> str:
    return request.registry.settings["migasfree.public_dir"]


def store_dir(request, project_slug: str, store_slug: str) -> str:
    root = os.path.realpath(public_dir(request))
    path = os.path.realpath(os.path.join(root, project_slug, STORES_DIR, store_slug))
    # Slugs cannot hold separators; this guards the invariant rather than trusting it.
    if not path.startswith(root + os.sep):
        raise bad_request("Invalid store path.")
    return path


def package_path(request, package: Package) -> str | None:
    """Where the file of ``package`` lives, or None for a package without store."""
    if package.store is None:
        return None
    return os.path.join(
        store_dir(request, package.project.slug, package.store.slug), package.fullname
    )


def write_atomic(path: str, source: BinaryIO) -> None:
    """Write ``source`` to ``path`` through a temporary file renamed over it."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    # The leading dot keeps the temporary name out of the valid package names.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            if hasattr(source, "seek"):
                source.seek(0)
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def copy_atomic(source_path: str, target_path: str) -> bool:
    """Copy a store file; False (and a log line) when the source file is missing."""
    try:
        with open(source_path, "rb") as source:
            write_atomic(target_path, source)
    except FileNotFoundError:
        log.warning("package file %s is missing; nothing copied", source_path)
        return False
    return True


def remove_after_commit(request, path: str | None) -> None:
    """Delete the file at ``path`` once the transaction has committed.

    The file's identity is recorded now: if the same name was uploaded again in between (a new
    inode, thanks to ``os.replace``) the new file is left alone.
    """
    if path is None:
        return
    try:
        seen = os.stat(path)
    except FileNotFoundError:
        return

    def remove(success: bool) -> None:
        if not success:
            return
        try:
            current = os.stat(path)
            if identity(current) == identity(seen):
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("could not remove package file %s: %s", path, error)

    request.tm.get().addAfterCommitHook(remove)


def identity(stat: os.stat_result) -> tuple[int, int, int]:
    # An inode number can be reused once freed; the modification time tells those apart.
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns


def file_digest(path: str) -> tuple[int, str]:
    """Size in bytes and SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


# -- multipart uploads -------------------------------------------------------------------------


@dataclass
class Upload:
    filename: str
    stream: BinaryIO


@dataclass
class Planned:
    upload: Upload
    name: str
    version: str
    architecture: str
    existing: Package | None


def multipart_form(request):
    """The parsed multipart body (a MultiDict), or a 400 when it cannot be parsed."""
    try:
        return request.POST
    except Exception as error:  # cgi/webob raise assorted errors on bad bodies
        raise bad_request(f"Invalid multipart body: {error}") from None


def read_uploads(form, field: str = "files") -> list[Upload]:
    """Every file posted under ``field``; a 400 naming it when there is none or one is empty."""
    uploads = []
    for value in form.getall(field):
        if not hasattr(value, "file") or not getattr(value, "filename", None):
            raise validation_error({field: "The submitted data was not a file."})
        stream = value.file
        stream.seek(0, os.SEEK_END)
        empty = stream.tell() == 0
        stream.seek(0)
        if empty:
            raise validation_error({field: f"The submitted file {value.filename!r} is empty."})
        uploads.append(Upload(value.filename, stream))
    if not uploads:
        raise validation_error({field: "No file was submitted."})
    return uploads


def already_exists(fullname: str, store: Store) -> str:
    return "Package already exists"


def duplicated_in_store(fullname: str, store: Store) -> str:
    return f"Package {fullname} is duplicated in store {store.name}"


def incorrect_name(fullname: str) -> str:
    return f"Package {fullname} has an incorrect name format"


def plan_uploads(
    request, store: Store, uploads: list[Upload], duplicate: Callable[[str, Store], str]
) -> list[Planned]:
    """Check every upload against the names and the store before anything is written.

    A package of the project already in a store is a ``duplicate`` (400); a row known only from
    inventories (no store) is reused and gets the store and the file.
    """
    planned, seen = [], set()
    for upload in uploads:
        fullname = check_filename(upload.filename)
        name, version, arch = normalized_name(fullname)
        if not name or len(name) > 200 or len(version) > 60 or len(arch) > 10:
            raise validation_error({"files": incorrect_name(fullname)})
        existing = request.dbsession.scalars(
            select(Package).where(
                Package.fullname == fullname, Package.project_id == store.project_id
            )
        ).first()
        if fullname in seen or (existing is not None and existing.store is not None):
            raise validation_error({"files": duplicate(fullname, existing_store(existing, store))})
        seen.add(fullname)
        planned.append(Planned(upload, name, version, arch, existing))
    return planned


def existing_store(existing: Package | None, default: Store) -> Store:
    return existing.store if existing is not None and existing.store is not None else default


def save_uploads(
    request, store: Store, planned: list[Planned], duplicate: Callable[[str, Store], str]
) -> list[Package]:
    """Create (or attach) the rows, flush them, then write their files into ``store``."""
    session = request.dbsession
    packages = []
    try:
        with session.begin_nested():
            for item in planned:
                package = item.existing or Package(
                    fullname=item.upload.filename, project=store.project
                )
                package.name, package.version = item.name, item.version
                package.architecture = item.architecture
                package.store = store
                session.add(package)
                packages.append(package)
    except IntegrityError:
        # Another request stored the same name meanwhile: nothing was written yet.
        names = ", ".join(item.upload.filename for item in planned)
        raise validation_error({"files": duplicate(names, store)}) from None
    directory = store_dir(request, store.project.slug, store.slug)
    for item, package in zip(planned, packages, strict=True):
        write_atomic(os.path.join(directory, package.fullname), item.upload.stream)
    return packages


# -- package sets as multipart ----------------------------------------------------------------


def set_form_data(form) -> dict:
    """The write fields of a multipart body; ``packages`` may repeat or be comma-separated.

    F.27 fixed: the original copied the form with ``dict()``, so repeated fields were lost.
    """
    data = {}
    for key in ("name", "description", "project", "store"):
        if key not in form:
            continue
        value = form.get(key)
        if not isinstance(value, str):
            raise validation_error({key: "Not a valid string."})
        if key == "store" and value.strip().lower() in {"", "null"}:
            data[key] = None
        elif value != "" or key == "description":
            data[key] = value
    if "packages" in form:
        values = [v for v in form.getall("packages") if isinstance(v, str)]
        data["packages"] = [part.strip() for v in values for part in v.split(",") if part.strip()]
    return data


def plan_set_uploads(request, form, data: dict, obj) -> list:
    """Validate the uploaded files against the set's final store before anything is saved."""
    if not form.getall("files"):
        return []
    uploads = read_uploads(form)
    store = load_row(request, Store, data["store"], "store") if "store" in data else obj.store
    if store is None:
        raise validation_error({"files": "The package set needs a store to upload packages."})
    project_id = data.get("project", obj.project_id if obj else None)
    if store.project_id != project_id:
        return []  # apply() answers "Store must belong to the project"
    return plan_uploads(request, store, uploads, duplicated_in_store)


# -- copies between projects -------------------------------------------------------------------


def target_store(request, project: Project, name: str) -> Store:
    """The store called ``name`` in ``project`` (also matched by slug), created if missing."""
    slug = slugify(name)
    found = request.dbsession.scalars(
        select(Store)
        .where(Store.project_id == project.id, (Store.name == name) | (Store.slug == slug))
        .order_by((Store.name == name).desc())
    ).first()
    if found is None:
        found = Store(name=name, slug=slug, project=project)
        request.dbsession.add(found)
        request.dbsession.flush()
    return found


def copy_package(request, package: Package, project: Project) -> Package:
    """The package of ``project`` with the same file name, created (and its file copied) if
    needed. A package already stored in the target project is reused, never overwritten."""
    session = request.dbsession
    found = session.scalars(
        select(Package).where(
            Package.fullname == package.fullname, Package.project_id == project.id
        )
    ).first()
    if found is not None and (found.store is not None or package.store is None):
        return found
    found = found or Package(fullname=package.fullname, project=project)
    found.name, found.version = package.name, package.version
    found.architecture = package.architecture
    session.add(found)
    if package.store is not None:
        found.store = target_store(request, project, package.store.name)
        session.flush()
        target = store_dir(request, project.slug, found.store.slug)
        copy_atomic(package_path(request, package), os.path.join(target, found.fullname))
    return found
