"""Notifications: server events for administrators, global (spec A.2.8, B.11, D.4)."""

from __future__ import annotations

import colander

from migasfree_pyramid.api import Resource
from migasfree_pyramid.api.filters import Filter
from migasfree_pyramid.api.schemas import LenientBoolean, Schema, Text
from migasfree_pyramid.models import Notification
from migasfree_pyramid.scoping import Hidden

from .shapes import created_at_filter


class NotificationCreateSchema(Schema):
    message = Text()


class NotificationUpdateSchema(Schema):
    checked = colander.SchemaNode(LenientBoolean(), missing=colander.drop)


class NotificationResource(Resource):
    """Created with ``{message}``; afterwards only ``checked`` changes. Never scoped."""

    path = "notifications"
    model = Notification
    permission_model = "client.notification"
    scoping = Hidden("server events name computers and users of every domain")
    estimated_count = True
    filters = {
        "id": Filter(Notification.id, "int", ("exact", "in")),
        "created_at": created_at_filter(Notification),
        "checked": Filter(Notification.checked, "bool"),
        "message": Filter(Notification.message, "str", ("exact", "icontains")),
    }
    search_fields = (Notification.message,)
    ordering = {
        name: getattr(Notification, name) for name in ("id", "created_at", "message", "checked")
    }
    default_ordering = ("-created_at",)

    def write_schema(self, request, obj=None):
        return NotificationCreateSchema() if obj is None else NotificationUpdateSchema()

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "created_at": obj.created_at,
            "message": obj.message,
            "checked": obj.checked,
        }

    def apply(self, request, obj, data, creating):
        if "message" in data:
            # Stored with LF line ends, as the original's save does.
            obj.message = data["message"].replace("\r\n", "\n")
        if "checked" in data:
            obj.checked = data["checked"]


def includeme(config) -> None:
    config.register_resource(NotificationResource)
