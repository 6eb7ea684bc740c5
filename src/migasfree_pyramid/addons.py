"""Addons: found by name in the ``migasfree.addons`` entry-point group, included after the core.

An addon is a package with an ``includeme(config)``. It validates its own settings (raising
``ConfigurationError``), registers its models, permissions, resources and tasks, and leaves no
trace when it is not named in ``migasfree.addons``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from pyramid.exceptions import ConfigurationError

ADDONS_KEY = "migasfree.enabled_addons"
ENTRY_POINT_GROUP = "migasfree.addons"


def available_addons() -> dict:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_addon(name: str, available: dict | None = None):
    available = available_addons() if available is None else available
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        raise ConfigurationError(f"unknown addon {name!r} in migasfree.addons (installed: {known})")
    try:
        return available[name].load()
    except ImportError as error:
        raise ConfigurationError(f"addon {name!r} cannot be imported: {error}") from error


def include_addons(config, names, available: dict | None = None) -> list[str]:
    """Include each named addon; a failing one stops start-up with a message that names it."""
    enabled = config.registry.setdefault(ADDONS_KEY, [])
    for name in names:
        if name in enabled:
            continue
        module = load_addon(name, available)
        try:
            config.include(module)
            config.commit()
        except ConfigurationError as error:
            raise ConfigurationError(f"addon {name!r}: {error}") from error
        enabled.append(name)
    return enabled
