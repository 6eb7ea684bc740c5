"""Alpine (apk). The v5 client supports it; the original server refused it at registration
(protocol-v5 section 10.3). We accept it; building apk repositories is the repositories issue."""

from __future__ import annotations

from .base import COMPONENT, DeploymentInfo, PackageManager


class Apk(PackageManager):
    name = "apk"
    module = "migasfree_pyramid.pms.apk"
    extensions = ("apk",)
    mimetypes = ("application/x-alpine-package", "application/vnd.alpine.package")
    architectures = (
        "aarch64",
        "armhf",
        "armv7",
        "loongarch64",
        "mips64",
        "ppc64le",
        "riscv64",
        "s390x",
        "x86",
        "x86_64",
    )

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return f"{self.internal_url(public_url, dep)}/{dep.slug}/{COMPONENT}\n"

    def external_template(self, dep: DeploymentInfo) -> str:
        return f"{self.external_url(dep)}/{dep.components or ''}\n"
