"""API conventions: Cornice (through this package only), JSON rendering and errors, docs."""

from __future__ import annotations

import datetime as dt
import decimal

from pyramid.exceptions import ConfigurationError
from pyramid.renderers import JSON

from .resource import Resource, action, register_resource


def _register_resource(config, resource_cls, prefix=None):
    kwargs = {"prefix": prefix} if prefix else {}
    register_resource(config, resource_cls, **kwargs)


def _add_resource_filters(config, path: str, filters: dict) -> None:
    """Directive: an addon adds filters to a core resource (e.g. attributes by fault
    definition). The resource keeps its class-level filters; the instance gets the union."""
    for resource in config.registry.get("migasfree.resources", []):
        if resource.path == path:
            resource.filters = {**resource.filters, **filters}
            return
    raise ConfigurationError(f"no admin resource at {path!r} to add filters to")


def includeme(config) -> None:
    config.include("cornice")
    # Cornice registers its own exception views; committing here lets ours replace them.
    config.commit()
    renderer = JSON()
    renderer.add_adapter(dt.datetime, lambda value, request: value.isoformat())
    renderer.add_adapter(dt.date, lambda value, request: value.isoformat())
    renderer.add_adapter(decimal.Decimal, lambda value, request: float(value))
    config.add_renderer("json", renderer)
    config.include(".errors")
    config.add_directive("register_resource", _register_resource)
    config.add_directive("add_resource_filters", _add_resource_filters)
    config.include(".docs")


__all__ = ["Resource", "action", "register_resource"]
