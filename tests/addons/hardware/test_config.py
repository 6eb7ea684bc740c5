"""The addon's configuration: it needs the clients addon and validates its settings."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from migasfree_addons.hardware import SETTINGS, HardwarePermission
from migasfree_pyramid import make_config
from migasfree_pyramid.addons import ADDONS_KEY
from migasfree_pyramid.db import ENGINE_KEY
from migasfree_pyramid.security import registered_permissions
from migasfree_pyramid.settings import read_settings


def test_needs_the_clients_addon(settings, engine):
    config = {**settings, ENGINE_KEY: engine, "migasfree.addons": "hardware"}
    with pytest.raises(ConfigurationError, match="the hardware addon needs the clients addon"):
        make_config(config)
    lone = Configurator(settings={})
    lone.registry[ADDONS_KEY] = []
    with pytest.raises(ConfigurationError, match="needs the clients addon"):
        lone.include("migasfree_addons.hardware")


def test_settings_defaults_and_validation():
    assert read_settings({}, SETTINGS) == {
        "hardware.sync_node_limit": 2000,
        "hardware.max_nodes": 50000,
        "hardware.max_depth": 64,
    }
    assert (
        read_settings({"hardware.sync_node_limit": "10"}, SETTINGS)["hardware.sync_node_limit"]
        == 10
    )
    for bad in ("0", "many"):
        with pytest.raises(ConfigurationError, match=r"hardware\.sync_node_limit"):
            read_settings({"hardware.sync_node_limit": bad}, SETTINGS)


def test_enabled_in_the_test_application(registry):
    assert registry.settings["hardware.sync_node_limit"] == 2000
    assert "hardware" in registry[ADDONS_KEY]
    assert set(HardwarePermission) <= set(registered_permissions(registry))
    assert HardwarePermission.VIEW_LOGICALNAME == "hardware.view_logicalname"
