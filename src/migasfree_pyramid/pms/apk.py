"""Alpine (apk). The v5 client supports it; the original server refused it at registration
(protocol-v5 section 10.3). We accept it, but cannot build its repositories yet: an
``APKINDEX.tar.gz`` is signed with an RSA key in abuild's format (not the OpenPGP repository
key, repositories.md Q3-Q4), and Debian ships neither ``apk`` nor ``abuild`` to build or verify
one, so we would publish indexes nothing here can check."""

from __future__ import annotations

from .base import COMPONENT, BuildContext, BuildError, DeploymentInfo, PackageManager


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

    def build(self, ctx: BuildContext) -> None:
        raise BuildError("apk repositories are not supported yet")

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return f"{self.internal_url(public_url, dep)}/{dep.slug}/{COMPONENT}\n"

    def external_template(self, dep: DeploymentInfo) -> str:
        return f"{self.external_url(dep)}/{dep.components or ''}\n"
