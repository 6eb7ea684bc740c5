"""``/api/schema/`` (OpenAPI 3 built from the registered resources) and ``/docs/`` (Swagger UI).

The Swagger UI files come from the swagger-ui-bundle package: nothing is loaded from a CDN, since
servers often run on closed networks.
"""

from __future__ import annotations

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from .openapi import build_openapi

SWAGGER_ASSETS = "swagger_ui_bundle:vendor/swagger-ui-4.15.5/"

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>migasfree API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-ui-standalone-preset.js"></script>
<script src="{init}"></script>
</body></html>
"""

DOCS_INIT = """window.onload = function () {
  // validatorUrl null: never send the schema's address to the public online validator.
  window.ui = SwaggerUIBundle({url: "%s", dom_id: "#swagger-ui", deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"});
};
"""


def schema_view(request):
    registry = request.registry
    document = registry.get("migasfree.openapi")
    if document is None:
        document = registry["migasfree.openapi"] = build_openapi(request)
    return document


def docs_view(request):
    static = request.static_path(SWAGGER_ASSETS).rstrip("/")
    page = DOCS_PAGE.format(static=static, init=request.route_path("docs.init"))
    return Response(page, content_type="text/html", charset="utf-8")


def docs_init_view(request):
    return Response(
        DOCS_INIT % request.route_path("api.schema"),
        content_type="application/javascript",
        charset="utf-8",
    )


def includeme(config) -> None:
    if not config.get_settings().get("migasfree.docs", True):
        return
    config.add_route("api.schema", "/api/schema/")
    config.add_view(
        schema_view, route_name="api.schema", renderer="json", permission=NO_PERMISSION_REQUIRED
    )
    config.add_route("docs", "/docs/")
    config.add_view(docs_view, route_name="docs", permission=NO_PERMISSION_REQUIRED)
    config.add_route("docs.init", "/docs/docs-init.js")
    config.add_view(docs_init_view, route_name="docs.init", permission=NO_PERMISSION_REQUIRED)
    config.add_static_view("docs/static", SWAGGER_ASSETS)
