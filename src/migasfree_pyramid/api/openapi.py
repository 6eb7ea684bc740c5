"""An OpenAPI 3.0 document built from the Cornice services and the admin resources.

Built by us rather than cornice_swagger, which only emits Swagger 2.0 and is unmaintained; the
API never depends on this document, it only describes it.
"""

from __future__ import annotations

import re

import colander

from .. import __version__
from .schemas import IdList, LenientBoolean, StrictInt, StringList  # noqa: F401 (types below)


def colander_to_json_schema(node: colander.SchemaNode) -> dict:
    typ = node.typ
    if isinstance(typ, colander.Mapping):
        props = {child.name: colander_to_json_schema(child) for child in node.children}
        required = [c.name for c in node.children if c.missing is colander.required]
        schema = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        return schema
    if isinstance(typ, colander.Sequence):
        return {"type": "array", "items": colander_to_json_schema(node.children[0])}
    if isinstance(typ, colander.Int | StrictInt):
        return {"type": "integer"}
    if isinstance(typ, colander.Float):
        return {"type": "number"}
    if isinstance(typ, colander.Boolean | LenientBoolean):
        return {"type": "boolean"}
    if isinstance(typ, colander.Date):
        return {"type": "string", "format": "date"}
    if isinstance(typ, colander.DateTime):
        return {"type": "string", "format": "date-time"}
    schema = {"type": "string"}
    for validator in _validators(node.validator):
        if isinstance(validator, colander.OneOf):
            schema["enum"] = list(validator.choices)
        if isinstance(validator, colander.Length) and validator.max:
            schema["maxLength"] = validator.max
    if node.missing is None:
        schema["nullable"] = True
    return schema


def _validators(validator):
    if validator is None:
        return []
    if isinstance(validator, colander.All):
        return list(validator.validators)
    return [validator]


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
    },
}


def _openapi_path(path: str) -> tuple[str, list[dict]]:
    params = []
    for name in re.findall(r"\{(\w+)(?::[^}]*)?\}", path):
        params.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path), params


def _list_parameters(resource) -> list[dict]:
    params = [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    ]
    if resource.ordering:
        allowed = ", ".join(sorted(resource.ordering))
        params.append(
            {
                "name": "ordering",
                "in": "query",
                "schema": {"type": "string"},
                "description": f"comma-separated, - for descending: {allowed}",
            }
        )
    if resource.search_fields:
        params.append({"name": "search", "in": "query", "schema": {"type": "string"}})
    for name, spec in sorted(resource.filters.items()):
        for lookup in spec.lookups:
            param = name if lookup == "exact" else f"{name}__{lookup}"
            params.append({"name": param, "in": "query", "schema": {"type": "string"}})
    return params


def build_openapi(request) -> dict:
    registry = request.registry
    resources = {
        r.path.strip("/").replace("/", "."): r for r in registry.get("migasfree.resources", [])
    }
    paths: dict = {}
    for service in registry.cornice_services.values():
        path, path_params = _openapi_path(service.path)
        resource = resources.get(service.name.rsplit(".", 2)[0]) if "." in service.name else None
        kind = service.name.rsplit(".", 1)[-1]
        for method in service.defined_methods:
            if method == "HEAD":
                continue
            operation = {
                "operationId": f"{service.name}.{method.lower()}",
                "tags": [service.name.split(".")[0]],
                "parameters": list(path_params),
                "responses": {
                    "default": {
                        "description": "error",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                    "200": {"description": "success"},
                },
            }
            if resource is not None and kind == "collection" and method == "GET":
                operation["parameters"] += _list_parameters(resource)
            if (
                resource is not None
                and resource.schema is not None
                and method in {"POST", "PUT", "PATCH"}
                and kind in {"collection", "item"}
            ):
                operation["requestBody"] = {
                    "content": {
                        "application/json": {"schema": colander_to_json_schema(resource.schema())}
                    }
                }
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "migasfree-pyramid API", "version": __version__},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Token <key>",
                },
            },
        },
        "security": [{"jwt": []}, {"token": []}],
    }
