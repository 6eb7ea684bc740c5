"""Package lists a computer receives from its deployments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def to_list(text: str | None) -> list[str]:
    """Split a package-list text field into names (None -> ``[]``).

    Newlines/CRs count as whitespace and empties are dropped.  The original
    tag endpoint split on ``\\n`` only; package names never contain spaces, so
    splitting on any whitespace is the same for valid data and tolerant of
    ``"a b"`` lines and CRLF leftovers.
    """
    if not text:
        return []
    return text.replace("\r", " ").replace("\n", " ").split()


def dedupe(items: Iterable[str]) -> list[str]:
    """Drop repeated items, keeping the first occurrence's position."""
    return list(dict.fromkeys(items))


@dataclass(frozen=True, slots=True)
class DeploymentPackages:
    """The five package-list texts of a deployment (quirk 7: None means empty)."""

    packages_to_install: str | None = None
    packages_to_remove: str | None = None
    default_preincluded_packages: str | None = None
    default_included_packages: str | None = None
    default_excluded_packages: str | None = None


def mandatory_packages(deployments: Iterable[DeploymentPackages]) -> dict[str, list[str]]:
    """``{"install": [...], "remove": [...]}`` over the available deployments.

    Concatenates ``packages_to_install`` / ``packages_to_remove`` in
    deployment order, de-duplicated preserving order.  App-catalog policy
    packages are appended by the caller, who then re-applies :func:`dedupe`;
    whether policies are skipped when no deployment is available (quirk 6)
    is the caller's decision too.
    """
    install: list[str] = []
    remove: list[str] = []
    for dep in deployments:
        install += to_list(dep.packages_to_install)
        remove += to_list(dep.packages_to_remove)
    return {"install": dedupe(install), "remove": dedupe(remove)}


def tag_change_packages(
    old_deployments: Iterable[DeploymentPackages],
    new_deployments: Iterable[DeploymentPackages],
) -> dict[str, list[str]]:
    """Packages to (un)install after a computer's tags changed (spec B.6).

    ``old_deployments`` are those available for the removed tags only,
    ``new_deployments`` those available for the added + kept tags.  Old
    deployments are undone (what they install is removed, what they remove is
    installed); new ones are applied (pre-included packages go first in
    ``preinstall``).  Lists are de-duplicated preserving order; a package may
    appear in both ``install`` and ``remove``, as in the original.
    """
    preinstall: list[str] = []
    install: list[str] = []
    remove: list[str] = []
    for dep in old_deployments:
        remove += to_list(dep.packages_to_install)
        remove += to_list(dep.default_preincluded_packages)
        remove += to_list(dep.default_included_packages)
        install += to_list(dep.packages_to_remove)
        install += to_list(dep.default_excluded_packages)
    for dep in new_deployments:
        remove += to_list(dep.packages_to_remove)
        remove += to_list(dep.default_excluded_packages)
        install += to_list(dep.packages_to_install)
        install += to_list(dep.default_included_packages)
        preinstall += to_list(dep.default_preincluded_packages)
    return {"preinstall": dedupe(preinstall), "install": dedupe(install), "remove": dedupe(remove)}
