"""One JSON error shape for every failure: ``{"status": "error", "errors": [...]}``.

It is Cornice's validation shape; 401/403/404/405/409 and the rest use it too, so a client parses
one thing whatever went wrong. Bad input never reaches a 500.
"""

from __future__ import annotations

import logging

from pyramid.httpexceptions import (
    HTTPBadRequest,
    HTTPConflict,
    HTTPException,
    HTTPForbidden,
    HTTPServiceUnavailable,
    HTTPUnauthorized,
    status_map,
)
from pyramid.response import Response
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)


def error_body(errors: list[dict]) -> dict:
    return {"status": "error", "errors": errors}


def error_entry(description: str, name: str = "", location: str = "body") -> dict:
    return {"location": location, "name": name, "description": description}


class APIError(HTTPException):
    """Raise to answer with the common error shape. ``errors`` are ``error_entry`` dicts."""

    def __init__(self, status: int, errors: list[dict]):
        self.code = status
        self.title = status_map[status].title
        super().__init__()
        self.errors = errors


def bad_request(description: str, name: str = "", location: str = "body") -> APIError:
    return APIError(400, [error_entry(description, name, location)])


def validation_error(errors: dict[str, str], location: str = "body") -> APIError:
    return APIError(400, [error_entry(msg, name, location) for name, msg in errors.items()])


def not_found(description: str = "Not found.") -> APIError:
    return APIError(404, [error_entry(description, "", "path")])


def conflict(description: str, name: str = "") -> APIError:
    return APIError(409, [error_entry(description, name, "body")])


def json_error_response(request, status: int, errors: list[dict], headers=None) -> Response:
    response = Response(status=status, json_body=error_body(errors), charset="utf-8")
    response.content_type = "application/json"
    if headers:
        response.headers.update(headers)
    return response


def api_error_view(exc: APIError, request):
    return json_error_response(request, exc.code, exc.errors)


def forbidden_view(exc: HTTPForbidden, request):
    # No identity at all: the caller must authenticate (401); otherwise it lacks permission.
    if request.authenticated_userid is None:
        return json_error_response(
            request,
            401,
            [error_entry("Authentication credentials were not provided.", "", "header")],
            {"WWW-Authenticate": 'Bearer realm="migasfree"'},
        )
    return json_error_response(
        request,
        403,
        [error_entry("You do not have permission to perform this action.", "", "path")],
    )


def not_found_view(exc, request):
    return json_error_response(request, 404, [error_entry("Not found.", "", "path")])


def http_exception_view(exc: HTTPException, request):
    if exc.code is None or exc.code < 400:
        return exc
    description = exc.detail or exc.explanation or exc.title
    location = "header" if isinstance(exc, HTTPUnauthorized) else "body"
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "www-authenticate"}}
    return json_error_response(
        request, exc.code, [error_entry(str(description), "", location)], headers
    )


def database_unavailable_view(exc: OperationalError, request):
    log.error("database error: %s", exc)
    return json_error_response(
        request,
        HTTPServiceUnavailable.code,
        [error_entry("Operational error in database", "", "server")],
    )


def unexpected_error_view(exc: Exception, request):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return json_error_response(request, 500, [error_entry("Internal server error", "", "server")])


def includeme(config) -> None:
    config.add_exception_view(api_error_view, context=APIError)
    config.add_forbidden_view(forbidden_view)
    config.add_notfound_view(not_found_view)
    config.add_exception_view(http_exception_view, context=HTTPException)
    config.add_exception_view(database_unavailable_view, context=OperationalError)
    config.add_exception_view(unexpected_error_view, context=Exception)


__all__ = [
    "APIError",
    "HTTPBadRequest",
    "HTTPConflict",
    "bad_request",
    "conflict",
    "error_body",
    "error_entry",
    "not_found",
    "validation_error",
]
