"""Clients addon: the v5 client protocol and the admin API of what clients report.

This is the addon skeleton every addon follows (see README, "Writing an addon"); the protocol
itself is built by the clients issue.
"""

from __future__ import annotations

from migasfree_pyramid.settings import Setting, as_int, read_settings

SETTINGS = (
    Setting("clients.hardware_period_days", as_int(1), 30, "days between hardware captures"),
)


def includeme(config) -> None:
    settings = config.get_settings()
    settings.update(read_settings(settings, SETTINGS))
    # Registers the addon's tables in the shared metadata.
    from . import models  # noqa: F401
