"""Live sync messages (spec D.4 ``messages/``, E.2), read from Redis.

Scoped like the original (projects and computers in the caller's view); filters ``id__in``,
``project__id`` (an integer, fixing F.18), ``created_at__lt|gte``, ``computer__status__in`` (a
real list, fixing F.18) and ``search``; newest first; page-number pagination. Like the original,
any authenticated administrator may call these (no model permission).
"""

from __future__ import annotations

import csv
import io

from cornice import Service
from pyramid.authorization import DENY_ALL, Allow, Authenticated, Deny
from pyramid.response import Response
from sqlalchemy import select

from migasfree_pyramid.api.errors import not_found, validation_error
from migasfree_pyramid.api.filters import parse_datetime, parse_int
from migasfree_pyramid.api.pagination import page_params, page_url
from migasfree_pyramid.api.resource import API_PREFIX, RootChild
from migasfree_pyramid.models import Computer
from migasfree_pyramid.security.policy import AGENT

from .. import messages as live

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
    # Administrators only: agents are authenticated too (on safe paths), never admins.
    __acl__ = [(Deny, AGENT, VIEW_MESSAGES), (Allow, Authenticated, VIEW_MESSAGES), DENY_ALL]


def shape(row: dict) -> dict:
    computer_id = int(row["computer_id"])
    return {
        "id": computer_id,
        "created_at": row["date"],
        "computer": {
            "id": computer_id,
            "__str__": f"CID-{computer_id}",
            "status": row["computer_status"],
            "summary": row["computer_summary"],
        },
        "project": {"id": int(row["project_id"]), "name": row["project_name"]},
        "user": {"id": int(row["user_id"]), "name": row["user_name"]},
        "message": row["msg"],
    }


def visible_ids(request, ids: set[int]) -> set[int]:
    vis = request.visibility
    if vis is None or not ids:
        return ids
    query = select(Computer.id).where(Computer.id.in_(ids), Computer.id.in_(vis.computers))
    return set(request.dbsession.scalars(query))


def messages(request) -> list[dict]:
    """The caller's live messages after the query-string filters, newest first."""
    conn = live.client(request.registry)
    rows = [shape(row) for row in live.read_all(conn, request.registry)] if conn else []
    params = request.GET
    try:
        if params.get("id__in"):
            wanted = {parse_int(v) for v in params["id__in"].split(",") if v.strip()}
            rows = [r for r in rows if r["id"] in wanted]
        if params.get("project__id"):
            project = parse_int(params["project__id"])
            rows = [r for r in rows if r["project"]["id"] == project]
        for key, keep in (
            ("created_at__gte", lambda a, b: a >= b),
            ("created_at__lt", lambda a, b: a < b),
        ):
            if params.get(key):
                limit = parse_datetime(params[key]).replace(tzinfo=None).isoformat()
                rows = [r for r in rows if keep(r["created_at"], limit)]
    except ValueError as error:
        raise validation_error({"querystring": str(error)}, "querystring") from None
    if params.get("computer__status__in"):
        statuses = {s.strip() for s in params["computer__status__in"].split(",")}
        rows = [r for r in rows if r["computer"]["status"] in statuses]
    if params.get("search"):
        text = params["search"].lower()
        rows = [r for r in rows if text in r["message"].lower()]
    allowed = visible_ids(request, {r["id"] for r in rows})
    rows = [r for r in rows if r["id"] in allowed]
    return sorted(rows, key=lambda r: r["created_at"], reverse=True)


def list_messages(request):
    rows = messages(request)
    page, size = page_params(request)
    last = max(1, -(-len(rows) // size))
    if page > last:
        raise not_found("Invalid page.")
    return {
        "count": len(rows),
        "next": page_url(request, page + 1 if page < last else None),
        "previous": page_url(request, page - 1 if page > 1 else None),
        "results": rows[(page - 1) * size : page * size],
    }


def export_messages(request):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in messages(request):
        writer.writerow(
            [
                r["created_at"],
                r["id"],
                r["computer"]["__str__"],
                r["computer"]["status"],
                r["computer"]["summary"],
                r["project"]["id"],
                r["project"]["name"],
                r["user"]["id"],
                r["user"]["name"],
                r["message"],
            ]
        )
    response = Response(body=out.getvalue().encode(), content_type="text/csv", charset="utf-8")
    response.content_disposition = 'attachment; filename="messages.csv"'
    return response


def delete_message(request):
    computer_id = int(request.matchdict["id"])
    conn = live.client(request.registry)
    if conn is None or not visible_ids(request, {computer_id}):
        raise not_found("No live message for this computer.")
    if not live.exists(conn, request.registry, computer_id):
        raise not_found("No live message for this computer.")
    live.clear(conn, request.registry, computer_id)
    return Response(status=204)


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
