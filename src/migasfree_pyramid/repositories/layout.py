"""Repository directories on disk: stages, package links and the atomic swap.

The live path clients read (``PackageManager.live_path``) is a symlink to the current build
directory, a hidden sibling named ``.<slug>.build-<token>``. A build fills a new sibling (the
stage) and then replaces the live symlink with ``os.replace`` of a new symlink: a reader sees
the old repository or the new one, never a mix (spec Q5: the original deleted the repository and
copied the new one in place). Package files are relative symlinks to the store, so a build
directory keeps working whatever its name, and the whole public tree can be moved.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)

PACKAGES_DIR = "PKGS"
BUILD, LINK, OLD = "build", "link", "old"


def _token() -> str:
    return f"{int(time.time())}-{secrets.token_hex(4)}"


def sibling(live: str, kind: str, token: str) -> str:
    """``.<slug>.<kind>-<token>`` beside ``live`` (slugs hold no dots: names never collide)."""
    return os.path.join(os.path.dirname(live), f".{os.path.basename(live)}.{kind}-{token}")


def is_sibling(live: str, name: str) -> bool:
    prefix = f".{os.path.basename(live)}."
    return name.startswith(prefix) and name[len(prefix) :].split("-", 1)[0] in (BUILD, LINK, OLD)


def current_build(live: str) -> str | None:
    """The name of the build directory the live symlink points at (None: no symlink)."""
    try:
        return os.path.basename(os.readlink(live))
    except (FileNotFoundError, OSError):
        return None


def remove_path(path: str) -> None:
    """Remove a file, a symlink (not its target) or a directory tree; missing is fine."""
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)
    except FileNotFoundError:
        pass


def remove_leftovers(live: str, keep: str | None = None) -> list[str]:
    """Remove every stage, temporary link and set-aside directory of ``live`` but ``keep``.

    Only safe while holding the deployment's build lock: a running build's stage is one of them.
    """
    parent = os.path.dirname(live)
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(parent):
            if name != keep and is_sibling(live, name):
                remove_path(os.path.join(parent, name))
                removed.append(name)
    return removed


def make_stage(live: str) -> str:
    """Create an empty stage directory beside ``live`` and return its path."""
    os.makedirs(os.path.dirname(live), exist_ok=True)
    stage = sibling(live, BUILD, _token())
    os.mkdir(stage)
    os.chmod(stage, 0o755)  # noqa: S103 (published: the web server reads it, whatever the umask)
    return stage


def link_packages(stage: str, packages: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``<stage>/PKGS/<fullname>`` → relative link to each store file that exists.

    Returns the ``(fullname, store path)`` pairs linked. A package whose file is missing from
    its store is left out (logged) rather than published as a dangling link that would make the
    repository tool fail for every other package.
    """
    directory = os.path.join(stage, PACKAGES_DIR)
    os.makedirs(directory, exist_ok=True)
    linked = []
    for fullname, target in packages:
        if not os.path.isfile(target):
            log.warning("package file %s is missing from its store; not published", target)
            continue
        os.symlink(os.path.relpath(target, directory), os.path.join(directory, fullname))
        linked.append((fullname, target))
    return linked


def swap(stage: str, live: str) -> str | None:
    """Make ``live`` point at ``stage`` atomically; return the build it pointed at before.

    A live path that is a real directory (a repository imported from the original server, or
    built by it) is renamed aside first and removed after the swap: for that one first swap,
    clients may get a 404 during the instant between the rename and the replace.
    """
    previous = current_build(live)
    token = _token()
    link = sibling(live, LINK, token)
    os.symlink(os.path.basename(stage), link)
    aside = None
    try:
        if os.path.isdir(live) and not os.path.islink(live):
            aside = sibling(live, OLD, token)
            os.rename(live, aside)
        os.replace(link, live)
    except BaseException:
        remove_path(link)
        if aside is not None and not os.path.lexists(live):
            os.rename(aside, live)
        raise
    if aside is not None:
        remove_path(aside)
    return previous


def remove_repository(live: str) -> None:
    """Remove a live repository (symlink or directory) with all its build directories."""
    remove_path(live)
    remove_leftovers(live)


def inside(root: str, path: str) -> bool:
    """``path`` is ``root`` or under it, once both are resolved (symlinks, ``..``)."""
    root = os.path.realpath(root)
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)
