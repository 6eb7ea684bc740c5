"""RPM families: yum, dnf and zypper share metadata (createrepo) and templates.

A repository is ``<repos>/<slug>/`` with ``PKGS/*.rpm`` and ``repodata/`` written by
``createrepo_c`` (Debian ships no ``createrepo``, repositories.md Q2), plus
``repodata/repomd.xml.asc``, the armored detached signature that ``repo_gpgcheck=1`` verifies.

Rebuilds are incremental: ``--update --update-md-path <live repository>`` reuses the metadata of
every package whose file has the same name, size and mtime as in the live repository, and
``--cachedir`` keeps checksums per project. (createrepo_c compares mtimes in whole seconds: a
package replaced by one of the same size within the same second keeps its old metadata until
it changes again; stores write new files, so in practice a re-upload differs.)
"""

from __future__ import annotations

import os
import tempfile

from ..crypto.gpg import SignRequest
from .base import BuildContext, DeploymentInfo, PackageManager
from .building import checked_packages, ensure_dir, log, pkgs_dir, run_tool, sign


class Yum(PackageManager):
    name = "yum"
    module = "migasfree_pyramid.pms.rpm"
    extensions = ("rpm",)
    mimetypes = ("application/x-rpm", "application/x-redhat-package-manager")
    architectures = ("aarch64", "i386", "i686", "noarch", "x86_64", "(none)")

    def build(self, ctx: BuildContext) -> None:
        packages = checked_packages(ctx)
        pkgs_dir(ctx)
        live = os.path.join(ctx.repos_root, ctx.live_name)
        argv = [
            "createrepo_c",
            "--quiet",
            "--update",
            "--cachedir",
            os.path.join(ctx.cache_dir, "createrepo"),
            "--workers",
            str(os.cpu_count() or 1),
        ]
        if os.path.isfile(os.path.join(live, "repodata", "repomd.xml")):
            argv += ["--update-md-path", live]
        os.makedirs(ctx.cache_dir, exist_ok=True)
        fd, read_list = tempfile.mkstemp(dir=ctx.cache_dir, prefix=".createrepo-read-")
        os.close(fd)
        try:
            run_tool([*argv, "--read-pkgs-list", read_list, ctx.stage_dir], package="createrepo-c")
            with open(read_list, encoding="utf-8") as handle:
                read = sum(1 for line in handle if line.strip())
        finally:
            os.unlink(read_list)
        log.info("%s %s: %d packages, %d read", self.name, ctx.live_name, len(packages), read)
        repodata = ensure_dir(os.path.join(ctx.stage_dir, "repodata"))
        for name in os.listdir(repodata):
            os.chmod(os.path.join(repodata, name), 0o644)  # whatever the worker's umask
        repomd = os.path.join(repodata, "repomd.xml")
        sign(ctx, SignRequest(repomd, f"{repomd}.asc", "armor"))

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return (
            f"[REPO-{dep.slug}]\n"
            f"name=REPO-{dep.slug}\n"
            f"baseurl={self.internal_url(public_url, dep)}/{dep.slug}\n"
            "enabled=1\n"
            "http_caching=none\n"
            "repo_gpgcheck=1\n"
            "gpgcheck=0\n"
            "gpgkey=file://{keys_path}/{server}/repositories.pub\n"
        )

    def external_template(self, dep: DeploymentInfo) -> str:
        options = "\n".join((dep.options or "").split())
        extra = f"{options}\n" if options else ""
        base = self.external_url(dep)
        if not dep.components:
            return (
                f"[EXTERNAL-{dep.slug}]\n"
                f"name=EXTERNAL-{dep.slug}\n"
                f"baseurl={base}/{dep.suite or ''}/$basearch/\n"
                f"{extra}"
            )
        sections = []
        for component in dep.components.split():
            label = component.replace("/", "-")
            # Unlike the original (repositories.md Q9) the URL keeps the deployment slug as the
            # cache directory, so every component is served by the same external source.
            sections.append(
                f"[EXTERNAL-{dep.slug}-{label}]\n"
                f"name=EXTERNAL-{dep.slug}-{label}\n"
                f"baseurl={base}/{dep.suite or ''}/{component}\n"
                f"{extra}"
            )
        return "".join(sections)


class Dnf(Yum):
    name = "dnf"


class Zypper(Yum):
    name = "zypper"
