"""Fixtures and helpers of the builder tests (``test_gpg.py``, ``test_build_*.py``): a signing
key made once per session, a public tree laid out as the server's, builds staged and swapped as
the orchestrator does, and a static HTTP server for the real clients.

GnuPG homes (ours and the clients') live in short directories under /tmp: gpg-agent's socket
path must fit in 107 bytes, which pytest's ``tmp_path`` does not guarantee. Their agents are
stopped when the fixture ends.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import tempfile
import threading

import pytest

from migasfree_pyramid.crypto.gpg import Signer, ensure_repository_key
from migasfree_pyramid.pms import get_pms
from migasfree_pyramid.pms.base import BuildContext, DeploymentInfo

PROJECT = "proj"
STORE = "main"


def short_dir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def stop_agents(root: str) -> None:
    """Stop every gpg-agent whose home is under ``root`` (ours, dnf's, pacman's)."""
    for folder, _, files in os.walk(root):
        if "S.gpg-agent" in files:
            subprocess.run(  # noqa: S603
                ["gpgconf", "--homedir", folder, "--kill", "gpg-agent"],  # noqa: S607
                capture_output=True,
                check=False,
            )


@contextlib.contextmanager
def scratch_dir(prefix: str):
    path = short_dir(prefix)
    try:
        yield path
    finally:
        stop_agents(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_keys():
    """A keys directory with the repository key, generated once (RSA 4096 takes seconds)."""
    if shutil.which("gpg") is None:
        pytest.skip("missing tools: gpg (see scripts/system-packages)")
    with scratch_dir("mfk-") as path:
        ensure_repository_key(path)
        yield path


@pytest.fixture
def repo_signer(repo_keys):
    return Signer(repo_keys)


@pytest.fixture
def client_dir():
    """A short directory for a client's configuration and GnuPG home."""
    with scratch_dir("mfc-") as path:
        yield path


@pytest.fixture
def copied_keys(repo_keys):
    """A private copy of the session's keys directory (for tests that change the keyring)."""
    with scratch_dir("mfk-") as path:
        home = os.path.join(repo_keys, ".gnupg")
        shutil.copytree(
            home, os.path.join(path, ".gnupg"), ignore=shutil.ignore_patterns("S.*", ".#*")
        )
        shutil.copy(os.path.join(repo_keys, "migasfree-repository.gpg"), path)
        yield path


def dearmor(armored_path: str, target: str) -> str:
    """A binary keyring (what apt's ``signed-by`` and ``gpgv --keyring`` read)."""
    subprocess.run(  # noqa: S603
        ["gpg", "--batch", "--yes", "--dearmor", "-o", target, armored_path],  # noqa: S607
        check=True,
        capture_output=True,
    )
    return target


def gpgv(keyring: str, *files: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        ["gpgv", "--keyring", keyring, *files],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )


class Tree:
    """``<www>/pub`` is the public directory: one project and one store, repositories built in
    a stage beside the live path and swapped in with a symlink, as the orchestrator does."""

    def __init__(self, www: str, signer: Signer, cache_dir: str):
        self.www = www
        self.public = os.path.join(www, "pub")
        self.store = os.path.join(self.public, PROJECT, "stores", STORE)
        self.repos_root = os.path.join(self.public, PROJECT, "repos")
        self.cache_dir = cache_dir
        self.signer = signer
        self.builds = 0
        os.makedirs(self.store, exist_ok=True)

    def context(self, pms_name: str, slug: str, files, arch: str = "amd64") -> BuildContext:
        pms = get_pms(pms_name)
        live = pms.live_path(self.public, PROJECT, slug)
        os.makedirs(os.path.dirname(live), exist_ok=True)
        self.builds += 1
        stage = os.path.join(os.path.dirname(live), f".{slug}.build-{self.builds}")
        os.mkdir(stage)
        pkgs = os.path.join(stage, "PKGS")
        os.mkdir(pkgs)
        packages = []
        for path in files:
            fullname = os.path.basename(path)
            os.symlink(os.path.relpath(path, pkgs), os.path.join(pkgs, fullname))
            packages.append((fullname, path))
        return BuildContext(
            stage_dir=stage,
            live_name=slug,
            repos_root=self.repos_root,
            architecture=arch,
            packages=tuple(packages),
            signer=self.signer,
            cache_dir=self.cache_dir,
        )

    def publish(self, pms_name: str, slug: str, files, arch: str = "amd64") -> str:
        """Build and swap in; returns the live path."""
        ctx = self.context(pms_name, slug, files, arch)
        get_pms(pms_name).build(ctx)
        live = os.path.join(os.path.dirname(ctx.stage_dir), slug)
        link = f"{live}.swap"
        os.symlink(os.path.basename(ctx.stage_dir), link)
        os.replace(link, live)
        return live

    def source(self, pms_name: str, slug: str, server: str, **extra) -> str:
        template = get_pms(pms_name).source_template(DeploymentInfo(slug, PROJECT, "I"))
        return template.format(protocol="http", server=server, **extra)


@pytest.fixture
def build_tree(tmp_path, repo_signer):
    return Tree(str(tmp_path / "www"), repo_signer, str(tmp_path / "cache"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def static_server(build_tree):
    """Serve ``build_tree.www`` on 127.0.0.1 (an ephemeral port); yields ``host:port``."""
    handler = functools.partial(_QuietHandler, directory=build_tree.www)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(
    argv: list[str], cwd: str | None = None, env=None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        argv,
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def same_bytes(a: str, b: str) -> bool:
    with open(a, "rb") as first, open(b, "rb") as second:
        return first.read() == second.read()
