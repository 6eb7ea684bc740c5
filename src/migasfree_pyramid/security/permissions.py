"""Permissions are enum members named like Django's (``core.view_deployment``).

The names stay Django's because the admin API exposes them (``accounts/permissions/``) and an
import tool maps the original's group grants one to one. Each app (the core, every addon) declares
its own enum with ``model_permissions`` and registers it with ``config.add_permissions``; the
permission table is kept in sync from these enums by ``migasfree-initdb``.
"""

from __future__ import annotations

from enum import StrEnum

ACTIONS = ("view", "add", "change", "delete")


def model_permissions(enum_name: str, app: str, models: dict[str, str]) -> type[StrEnum]:
    """Build a StrEnum with view/add/change/delete for each ``{model: verbose name}``.

    Members are named ``<ACTION>_<MODEL>`` (``VIEW_DEPLOYMENT``) and valued ``app.action_model``.
    """
    members = {
        f"{action.upper()}_{model.upper()}": f"{app}.{action}_{model}"
        for model in models
        for action in ACTIONS
    }
    enum = StrEnum(enum_name, members)
    enum.verbose_names = dict(models)
    return enum


def permission_label(codename: str, verbose_names: dict[str, str]) -> str:
    """``core.view_deployment`` → ``Can view deployment`` (Django's wording)."""
    action, _, model = codename.split(".", 1)[1].partition("_")
    return f"Can {action} {verbose_names.get(model, model)}"


CorePermission = model_permissions(
    "CorePermission",
    "core",
    {
        "platform": "platform",
        "project": "project",
        "store": "store",
        "package": "package",
        "packageset": "package set",
        "deployment": "deployment",
        "property": "property",
        "attribute": "attribute",
        "attributeset": "attribute set",
        "singularity": "singularity",
        "schedule": "schedule",
        "scheduledelay": "schedule delay",
        "domain": "domain",
        "scope": "scope",
        "userprofile": "user profile",
    },
)

ClientPermission = model_permissions(
    "ClientPermission",
    "client",
    {
        "computer": "computer",
        "user": "user",
        "notification": "notification",
        "statuslog": "status log",
    },
)

AuthPermission = model_permissions(
    "AuthPermission", "auth", {"group": "group", "permission": "permission"}
)


def perm(app_model: str, action: str) -> str:
    """``perm("core.deployment", "add")`` → ``core.add_deployment``."""
    app, _, model = app_model.partition(".")
    return f"{app}.{action}_{model}"


def _all(app_model: str) -> list[str]:
    return [perm(app_model, action) for action in ACTIONS]


# Spec C.2. Codenames of addons that are not enabled are simply skipped when seeding.
READER_MODELS = [
    "client.computer",
    "client.user",
    "client.error",
    "client.fault",
    "client.faultdefinition",
    "client.migration",
    "client.notification",
    "client.statuslog",
    "client.packagehistory",
    "client.synchronization",
    "core.attribute",
    "core.attributeset",
    "core.schedule",
    "core.scheduledelay",
    "core.project",
    "core.package",
    "core.packageset",
    "core.deployment",
    "core.store",
    "core.userprofile",
    "core.domain",
    "core.scope",
    "core.platform",
    "core.property",
    "core.singularity",
    "app_catalog.policy",
    "app_catalog.policygroup",
    "app_catalog.application",
    "app_catalog.packagesbyproject",
    "device.device",
    "device.connection",
    "device.driver",
    "device.manufacturer",
    "device.capability",
    "device.logical",
    "device.model",
    "device.type",
    "hardware.node",
    "hardware.capability",
    "hardware.configuration",
    "hardware.logicalname",
]

DEFAULT_GROUPS: dict[str, list[str]] = {
    "Reader": [perm(m, "view") for m in READER_MODELS],
    "Liberator": [
        p
        for m in [
            "core.deployment",
            "core.schedule",
            "core.scheduledelay",
            "app_catalog.policy",
            "app_catalog.policygroup",
            "app_catalog.application",
            "app_catalog.packagesbyproject",
        ]
        for p in _all(m)
    ]
    + ["client.add_notification"],
    "Packager": [p for m in ("core.package", "core.packageset", "core.store") for p in _all(m)],
    "Computer Checker": [
        p for m in ("client.error", "client.fault", "client.synchronization") for p in _all(m)
    ],
    "Device installer": [
        p
        for m in [
            "device.connection",
            "device.manufacturer",
            "device.model",
            "device.type",
            "device.device",
            "device.driver",
            "device.logical",
        ]
        for p in _all(m)
    ],
    "Configurator": [
        p
        for m in [
            "client.faultdefinition",
            "core.property",
            "core.project",
            "client.synchronization",
            "core.platform",
            "core.attributeset",
            "client.migration",
            "client.notification",
        ]
        for p in _all(m)
    ],
    "Domain Admin": [*_all("core.scope"), *_all("core.deployment"), "client.view_computer"],
}

DOMAIN_ADMIN_GROUP = "Domain Admin"
