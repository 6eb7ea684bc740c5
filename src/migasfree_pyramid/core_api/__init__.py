"""The admin API of the core domain, under ``/api/v1/token/`` (spec D.3)."""

from __future__ import annotations

CORE_RESOURCE_MODULES = (
    ".platforms",
    ".packages",
    ".deployments",
    ".attributes",
    ".properties",
    ".schedules",
    ".domains",
    ".accounts",
)


def includeme(config) -> None:
    for module in CORE_RESOURCE_MODULES:
        config.include(module)
