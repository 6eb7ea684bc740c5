"""Desktop users reported by computers (spec A.2.2, D.4): list, retrieve and destroy.

Deleting one does not delete computers or synchronizations: their ``sync_user`` / ``user`` keys
are ON DELETE SET NULL (the original cascaded, spec F.21), so only the link is forgotten.
"""

from __future__ import annotations

from sqlalchemy import select

from migasfree_pyramid.api import Resource
from migasfree_pyramid.api.filters import Filter
from migasfree_pyramid.models import ClientUser, Computer
from migasfree_pyramid.scoping import Custom


class ClientUserResource(Resource):
    path = "users"
    model = ClientUser
    permission_model = "client.user"
    scoping = Custom(
        lambda request, query, vis: query.where(
            ClientUser.id.in_(select(Computer.sync_user_id).where(Computer.id.in_(vis.computers)))
        ),
        "desktop users of visible computers",
    )
    operations = frozenset({"list", "retrieve", "destroy"})
    filters = {
        "id": Filter(ClientUser.id, "int", ("exact", "in")),
        "name": Filter(ClientUser.name, "str", ("exact", "icontains")),
        "fullname": Filter(ClientUser.fullname, "str", ("exact", "icontains")),
    }
    search_fields = (ClientUser.name, ClientUser.fullname)
    ordering = {"id": ClientUser.id, "name": ClientUser.name, "fullname": ClientUser.fullname}
    default_ordering = ("name",)

    def serialize(self, obj, request):
        return {"id": obj.id, "name": obj.name, "fullname": obj.fullname, "__str__": str(obj)}


def includeme(config) -> None:
    config.register_resource(ClientUserResource)
