"""migasfree-pyramid: the application factory.

``main`` composes the core, commits it, and only then includes the addons named in
``migasfree.addons``: core directives (``add_permissions``, ``register_resource``...) exist before
any addon runs.
"""

from __future__ import annotations

from pyramid.config import Configurator

from .addons import include_addons
from .resources import Root

__version__ = "0.1.0"


def make_config(settings: dict) -> Configurator:
    config = Configurator(settings=settings, root_factory=Root)
    config.include(".routing")  # before any route is added
    config.include(".settings")
    config.include(".db")
    config.include(".api")
    config.include(".security")
    config.include(".tasks")
    config.include(".scoping")
    config.include(".core_api")
    config.include(".repositories")
    config.include(".external")
    config.commit()
    include_addons(config, config.get_settings()["migasfree.addons"])
    return config


def main(global_config, **settings):
    """The WSGI application (``paste.app_factory``)."""
    settings.setdefault("here", (global_config or {}).get("here"))
    return make_config(settings).make_wsgi_app()
