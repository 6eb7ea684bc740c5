"""Arch Linux and derivatives (pacman)."""

from __future__ import annotations

from .base import COMPONENT, DeploymentInfo, PackageManager


class Pacman(PackageManager):
    name = "pacman"
    module = "migasfree_pyramid.pms.pacman"
    extensions = ("pkg", "pkg.tar.zst", "pkg.tar.gz", "pkg.tar.xz")
    mimetypes = (
        "application/x-alpm-package",
        "application/x-zstd-compressed-alpm-package",
        "application/x-gtar",
    )
    architectures = ("any", "x86_64")

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return (
            f"[{dep.slug}]\n"
            "SigLevel = Optional TrustAll PackageTrustAll\n"
            f"Server = {self.internal_url(public_url, dep)}/{dep.slug}/{COMPONENT}\n\n"
        )

    def external_template(self, dep: DeploymentInfo) -> str:
        return f"[{dep.slug}]\nServer = {self.external_url(dep)}\n\n"
