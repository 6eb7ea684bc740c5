"""Helpers shared by the repository builders: running tools, checking the package list, writing
published files, and a per-package cache that makes rebuilds incremental.

The cache keys a package by its store path and trusts an entry only while the file has the same
size, modification time (ns) and inode: stores replace files atomically (a new inode), so a
re-uploaded package is never served with stale checksums.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import tempfile

from ..crypto.gpg import GpgError, SignRequest
from .base import COMPONENT, BuildContext, BuildError

log = logging.getLogger("migasfree_pyramid.pms")

TOOL_TIMEOUT = 3600  # seconds; a repository of thousands of packages on a slow disk
StatKey = tuple[int, int, int]


def run_tool(
    argv: list[str],
    *,
    cwd: str | None = None,
    package: str | None = None,
    stdout_path: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a build tool; a missing tool or a non-zero exit becomes a ``BuildError`` that names
    the Debian ``package`` to install and quotes the tool's error output. With ``stdout_path``
    the output goes to that file (a pipe costs a wake-up per write of a chatty tool)."""
    env = {**os.environ, "LC_ALL": "C"}
    try:
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(stdout_path, "wb")) if stdout_path else subprocess.PIPE
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                argv,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
                timeout=TOOL_TIMEOUT,
                check=False,
            )
    except FileNotFoundError as error:
        hint = f" (Debian package {package})" if package else ""
        raise BuildError(f"{argv[0]} is not installed{hint}") from error
    except subprocess.TimeoutExpired as error:
        raise BuildError(f"{argv[0]} did not finish in {TOOL_TIMEOUT} s") from error
    if result.returncode != 0:
        raise BuildError(f"{argv[0]} failed ({result.returncode}): {tail(result.stderr)}")
    return result


def sign(ctx: BuildContext, *requests: SignRequest) -> None:
    """Sign with the repository key; a gpg failure is a ``BuildError`` like any tool's."""
    try:
        ctx.signer.sign(list(requests))
    except GpgError as error:
        raise BuildError(f"signing failed: {error}") from error


def tail(output: bytes, lines: int = 20) -> str:
    text = output.decode(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:]) or "(no error output)"


def stat_key(path: str) -> StatKey:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def checked_packages(ctx: BuildContext) -> list[tuple[str, str, StatKey]]:
    """``ctx.packages`` with each store file's cache key, sorted by fullname; a duplicate
    fullname or a missing store file is a ``BuildError`` (the repository would be wrong)."""
    seen: set[str] = set()
    result, missing = [], []
    for fullname, path in ctx.packages:
        if fullname in seen or "/" in fullname or fullname.startswith("."):
            raise BuildError(f"invalid or duplicate package file name {fullname!r}")
        seen.add(fullname)
        try:
            result.append((fullname, path, stat_key(path)))
        except OSError:
            missing.append(fullname)
    if missing:
        raise BuildError(f"store files missing: {', '.join(sorted(missing)[:20])}")
    result.sort()
    return result


def ensure_dir(path: str) -> str:
    """Create a published directory readable by the web server whatever the umask."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)  # noqa: S103 (published: the web server reads it)
    return path


def write_public(path: str, data: bytes) -> None:
    """Write a published file (mode 0644 whatever the worker's umask)."""
    with open(path, "wb") as handle:
        handle.write(data)
        os.fchmod(handle.fileno(), 0o644)


def pkgs_dir(ctx: BuildContext) -> str:
    return ensure_dir(os.path.join(ctx.stage_dir, COMPONENT))


@contextlib.contextmanager
def _flock(path: str):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class PackageCache:
    """Facts about package files (JSON values) kept in ``<cache_dir>/<name>.json`` between
    builds and shared by the deployments of a project. Concurrent builds merge their entries
    under a lock; entries of files that no longer exist are dropped when saving."""

    VERSION = 1

    def __init__(self, cache_dir: str, name: str):
        os.makedirs(cache_dir, exist_ok=True)
        self.path = os.path.join(cache_dir, f"{name}.json")
        self.lock_path = os.path.join(cache_dir, f"{name}.lock")
        self.entries: dict[str, list] = {}
        self.added: dict[str, list] = {}

    def _read(self) -> dict[str, list]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}  # absent or damaged: a cold build repairs it
        if not isinstance(data, dict) or data.get("version") != self.VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def load(self) -> PackageCache:
        with _flock(self.lock_path):
            self.entries = self._read()
        return self

    def get(self, path: str, key: StatKey):
        entry = self.entries.get(path)
        if entry and tuple(entry[0]) == key:
            return entry[1]
        return None

    def put(self, path: str, key: StatKey, value) -> None:
        self.added[path] = [list(key), value]

    def save(self, used: set[str]) -> None:
        """Merge the new entries into the file (others may have saved meanwhile)."""
        stale = [p for p in self.entries if p not in used and not os.path.exists(p)]
        if not self.added and not stale:
            return
        with _flock(self.lock_path):
            entries = self._read()
            entries.update(self.added)
            for path in [p for p in entries if p not in used and not os.path.exists(p)]:
                del entries[path]
            data = json.dumps({"version": self.VERSION, "entries": entries}).encode()
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".cache-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        self.entries, self.added = entries, {}
