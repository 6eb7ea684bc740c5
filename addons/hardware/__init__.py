"""Hardware addon: the lshw tree of each computer, its capture through the v5 protocol and its
admin API (spec A.4, B.16, D.5; repositories.md 5).

Needs the clients addon (its safe-request plumbing and settings): list it first in
``migasfree.addons``. Layout as every addon: ``models.py``, ``migrations/``, ``safe.py``,
``admin.py``; ``capture.py`` and ``summary.py`` hold the rules, ``tasks.py`` the huey task.
"""

from __future__ import annotations

from pyramid.exceptions import ConfigurationError

from migasfree_pyramid.addons import ADDONS_KEY
from migasfree_pyramid.security.permissions import model_permissions
from migasfree_pyramid.settings import Setting, as_int, read_settings

SETTINGS = (
    Setting(
        "hardware.sync_node_limit",
        as_int(1),
        2000,
        "captures with more nodes are stored by a background task",
    ),
    Setting("hardware.max_nodes", as_int(1), 50000, "larger captures are refused (400)"),
    Setting("hardware.max_depth", as_int(1), 64, "deeper captures are refused (400)"),
)

HardwarePermission = model_permissions(
    "HardwarePermission",
    "hardware",
    {
        "node": "node",
        "capability": "capability",
        "configuration": "configuration",
        "logicalname": "logical name",
    },
)


def includeme(config) -> None:
    if "clients" not in config.registry.get(ADDONS_KEY, []):
        raise ConfigurationError("the hardware addon needs the clients addon")
    settings = config.get_settings()
    settings.update(read_settings(settings, SETTINGS))
    # Registers the addon's tables in the shared metadata.
    from . import models  # noqa: F401

    config.add_permissions(HardwarePermission)
    config.include(".safe")
    config.include(".admin")
