"""Windows packages (wpt)."""

from __future__ import annotations

from .base import COMPONENT, DeploymentInfo, PackageManager


class Wpt(PackageManager):
    name = "wpt"
    module = "migasfree_pyramid.pms.wpt"
    extensions = ("tar.gz",)
    mimetypes = ("application/gzip", "application/x-gzip")
    architectures = ("x64",)

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return f"{self.internal_url(public_url, dep)}/{dep.slug} {COMPONENT}\n"

    def external_template(self, dep: DeploymentInfo) -> str:
        return f"{self.external_url(dep)} {dep.suite or ''} {dep.components or ''}\n"
