"""``/pub/`` (``migasfree.public_url``) served by the app, for development only.

Enabled by ``migasfree.serve_public``; in production the web server serves ``public_dir``
(``docs/nginx.conf.example``). Rather than ``config.add_static_view``, a small view: the
directory is read from the settings on each request (tests and tools point it elsewhere after
start-up), symlinks are followed only while they stay inside the public directory (repositories
link to the stores), hidden names (stages of builds in progress, upload temporaries) are never
served, and directories are never listed.
"""

from __future__ import annotations

import mimetypes
import os
from urllib.parse import urlparse

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import FileResponse
from pyramid.security import NO_PERMISSION_REQUIRED

from .layout import inside

ROUTE = "migasfree.public"


def public_prefix(public_url: str) -> str | None:
    """The path of ``public_url`` ("/pub/"), or None when it points at another server."""
    parsed = urlparse(public_url)
    if parsed.scheme or parsed.netloc:
        return None
    return "/" + parsed.path.strip("/") + "/"


def resolve(root: str, segments) -> str | None:
    """The file ``segments`` names under ``root``, or None if it must not be served."""
    for segment in segments:
        if not segment or segment.startswith(".") or "/" in segment or "\0" in segment:
            return None
    if not segments:
        return None
    path = os.path.join(root, *segments)
    if not inside(root, path) or not os.path.isfile(path):
        return None
    return os.path.realpath(path)


def serve_public(request):
    """A file of ``public_dir``; 404 for anything else (directories included)."""
    root = os.path.realpath(request.registry.settings["migasfree.public_dir"])
    path = resolve(root, request.matchdict.get("subpath") or ())
    if path is None:
        raise HTTPNotFound()
    content_type, encoding = mimetypes.guess_type(path)
    if encoding:  # a .tar.gz is an archive to download, not a gzip-encoded tar
        content_type = "application/octet-stream"
    return FileResponse(path, request, content_type=content_type or "application/octet-stream")


def includeme(config) -> None:
    settings = config.get_settings()
    prefix = public_prefix(settings["migasfree.public_url"])
    if not settings.get("migasfree.serve_public") or prefix is None:
        return
    config.add_route(ROUTE, prefix + "*subpath")
    config.add_view(
        serve_public,
        route_name=ROUTE,
        request_method=("GET", "HEAD"),
        permission=NO_PERMISSION_REQUIRED,
    )
