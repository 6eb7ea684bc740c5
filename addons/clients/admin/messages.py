"""Live sync messages (spec D.4 ``messages/``, E.2).

The original reads them from Redis (``migasfree:msg:<computer id>``), written by every safe step
of a synchronization. No writer exists in this server yet, so there is nothing to show: the list
is an honest empty page, the export only has its header row and deleting a message answers 404.
Like the original, any authenticated administrator may call these (no model permission).
"""

from __future__ import annotations

import csv
import io

from cornice import Service
from pyramid.authorization import DENY_ALL, Allow, Authenticated
from pyramid.response import Response

from migasfree_pyramid.api.errors import not_found
from migasfree_pyramid.api.resource import API_PREFIX, RootChild

VIEW_MESSAGES = "clients.messages"
EXPORT_COLUMNS = (
    "created_at",
    "computer__id",
    "computer____str__",
    "computer__status",
    "computer__summary",
    "project__id",
    "project__name",
    "user__id",
    "user__name",
    "message",
)


class MessagesContext(RootChild):
    __name__ = "messages"
    __acl__ = [(Allow, Authenticated, VIEW_MESSAGES), DENY_ALL]


def list_messages(request):
    return {"count": 0, "next": None, "previous": None, "results": []}


def export_messages(request):
    out = io.StringIO()
    csv.writer(out).writerow(EXPORT_COLUMNS)
    response = Response(body=out.getvalue().encode(), content_type="text/csv", charset="utf-8")
    response.content_disposition = 'attachment; filename="messages.csv"'
    return response


def delete_message(request):
    raise not_found("No live message for this computer.")


def includeme(config) -> None:
    base = API_PREFIX + "messages/"
    services = (
        ("collection", base, "GET", list_messages),
        ("export", base + "export/", "GET", export_messages),
        ("item", base + r"{id:\d+}/", "DELETE", delete_message),
    )
    for suffix, path, method, view in services:
        service = Service(
            name=f"messages.{suffix}", path=path, factory=MessagesContext, renderer="json"
        )
        service.add_view(method, view, permission=VIEW_MESSAGES)
        config.add_cornice_service(service)
