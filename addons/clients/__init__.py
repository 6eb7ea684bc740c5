"""Clients addon: the v5 client protocol and the admin API of what clients report.

Layout (the convention every addon follows, see README "Writing an addon"):
``models.py`` tables, ``migrations/`` its alembic branch, ``public.py`` and ``safe.py`` /
``sync.py`` the protocol services, ``admin/`` the admin resources, settings below.
"""

from __future__ import annotations

from migasfree_pyramid.security.permissions import model_permissions
from migasfree_pyramid.settings import Setting, as_bool, as_int, as_str, read_settings

SETTINGS = (
    Setting("clients.hardware_period_days", as_int(1), 30, "days between hardware captures"),
    Setting("clients.organization", as_str, "", "organization name reported to clients"),
    Setting("clients.contact", as_str, "", "contact reported to clients"),
    Setting("clients.helpdesk", as_str, "", "help desk text shown on computer labels"),
    Setting(
        "clients.message_alert_seconds",
        as_int(1),
        1800,
        "a live sync message older than this marks a delayed computer",
    ),
    Setting("clients.report_own_version", as_bool, False, "report our version, not 5.0"),
    Setting("clients.notify_new_computer", as_bool, False, "notification per new computer"),
    Setting("clients.notify_change_name", as_bool, False, "accept and notify name changes"),
    Setting("clients.notify_change_ip", as_bool, False, "accept and notify IP changes"),
    Setting("clients.notify_change_uuid", as_bool, False, "accept and notify UUID changes"),
)

ClientsPermission = model_permissions(
    "ClientsPermission",
    "client",
    {
        "error": "error",
        "fault": "fault",
        "faultdefinition": "fault definition",
        "migration": "migration",
        "packagehistory": "package history",
        "synchronization": "synchronization",
    },
)


def includeme(config) -> None:
    settings = config.get_settings()
    settings.update(read_settings(settings, SETTINGS))
    # Registers the addon's tables in the shared metadata.
    from . import models  # noqa: F401

    config.add_permissions(ClientsPermission)
    config.include(".safe")
    config.include(".public")
    config.include(".sync")
    config.include(".admin")
    config.include(".messages")
