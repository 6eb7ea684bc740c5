"""RPM families: yum, dnf and zypper share metadata (createrepo) and templates."""

from __future__ import annotations

from .base import DeploymentInfo, PackageManager


class Yum(PackageManager):
    name = "yum"
    module = "migasfree_pyramid.pms.rpm"
    extensions = ("rpm",)
    mimetypes = ("application/x-rpm", "application/x-redhat-package-manager")
    architectures = ("aarch64", "i386", "i686", "noarch", "x86_64", "(none)")

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
