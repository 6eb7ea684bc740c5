"""Debian and derivatives (apt)."""

from __future__ import annotations

from .base import COMPONENT, DeploymentInfo, PackageManager


class Apt(PackageManager):
    name = "apt"
    module = "migasfree_pyramid.pms.apt"
    extensions = ("deb",)
    mimetypes = ("application/x-debian-package", "application/vnd.debian.binary-package")
    architectures = (
        "alpha",
        "all",
        "amd64",
        "arm",
        "arm64",
        "armel",
        "armhf",
        "avr32",
        "hppa",
        "hurd-i386",
        "i386",
        "ia64",
        "kfreebsd-amd64",
        "kfreebsd-i386",
        "loong64",
        "m68k",
        "mips",
        "mips64el",
        "mipsel",
        "powerpc",
        "powerpcspe",
        "ppc64",
        "ppc64el",
        "riscv64",
        "s390",
        "s390x",
        "sh4",
        "sparc",
        "sparc64",
        "x32",
    )
    relative_path = "repos/dists"

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        return f"deb {self.internal_url(public_url, dep)} {dep.slug} {COMPONENT}\n"

    def external_template(self, dep: DeploymentInfo) -> str:
        # The original writes a double space when there are no options; apt accepts both, and we
        # keep the byte-exact line because clients compare repository files between syncs.
        return (
            f"deb {dep.options or ''} {self.external_url(dep)} "
            f"{dep.suite or ''} {dep.components or ''}\n"
        )
