"""Package managers known to the server: one module per family, one registry.

Adding a PMS is one module with a ``PackageManager`` subclass plus a line in ``REGISTRY``.
``PackageManager.build(BuildContext)`` writes a repository (see ``base`` for the contract).
"""

from __future__ import annotations

from .apk import Apk
from .apt import Apt
from .base import BuildContext, BuildError, DeploymentInfo, PackageManager
from .pacman import Pacman
from .rpm import Dnf, Yum, Zypper
from .wpt import Wpt

REGISTRY: dict[str, PackageManager] = {
    pms.name: pms for pms in (Apk(), Apt(), Dnf(), Pacman(), Wpt(), Yum(), Zypper())
}
AVAILABLE_PMS = tuple(sorted(REGISTRY))


def get_pms(name: str) -> PackageManager | None:
    return REGISTRY.get(name)


def all_extensions() -> list[str]:
    """Every known package extension, longest first (file-name parsing tries them in order)."""
    return sorted(
        {ext for pms in REGISTRY.values() for ext in pms.extensions}, key=len, reverse=True
    )


def all_architectures() -> list[str]:
    return sorted(
        {arch for pms in REGISTRY.values() for arch in pms.architectures}, key=len, reverse=True
    )


__all__ = [
    "AVAILABLE_PMS",
    "REGISTRY",
    "BuildContext",
    "BuildError",
    "DeploymentInfo",
    "PackageManager",
    "all_architectures",
    "all_extensions",
    "get_pms",
]
