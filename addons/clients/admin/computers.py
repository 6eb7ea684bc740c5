"""Computers in the admin API (spec A.2.1, B.7, B.8, D.4). Extra actions: ``computer_actions``.

No create: computers register through the client protocol (``/api/v1/safe/computers/``), so
``POST computers/`` answers 405. ``devices/``, ``hardware/`` and ``remote-access/`` belong to
the devices and hardware addons and the manager proxy; they are not routed here.
"""

from __future__ import annotations

import colander
from cornice import Service
from sqlalchemy import String, cast, delete, exists, false, not_, or_, select, true, union
from sqlalchemy.orm import contains_eager, selectinload

from migasfree_pyramid.api import Resource, action
from migasfree_pyramid.api.errors import validation_error
from migasfree_pyramid.api.filters import Filter, compare, related
from migasfree_pyramid.api.related import load_row, load_rows
from migasfree_pyramid.api.resource import API_PREFIX, CollectionContext
from migasfree_pyramid.api.schemas import Integer, Schema, json_body
from migasfree_pyramid.core_api.nested import attributes as attribute_list
from migasfree_pyramid.domain import status as statuses
from migasfree_pyramid.models import Attribute, ClientUser, Computer, Project
from migasfree_pyramid.models.computers import computer_sync_attributes, computer_tags
from migasfree_pyramid.scoping import ByComputer
from migasfree_pyramid.services.computers import cid_attribute

from ..models import PackageHistory
from .computer_actions import ComputerActions
from .lifecycle import change_status, retire
from .shapes import (
    NullableDateTime,
    OptionalText,
    TagIds,
    client_user_info,
    computer_info,
    max_length,
    optional,
)

# Hooks the hardware addon fills (``config.registry[HOOK] = func``); both take a list of
# computers and return ``{computer id: value}`` so that a page costs one query, not one per row.
PRODUCT_SYSTEM_HOOK = "migasfree.clients.product_system"
ARCHITECTURE_HOOK = "migasfree.clients.architecture"
STATUS_LABELS = {status: status.capitalize() for status in statuses.STATUSES}


def product_systems(request, computers) -> dict[int, str]:
    """``docker``/``virtual``/``laptop``/``desktop``/``''`` per computer.

    Without the hardware addon only the stored ``machine`` flag is known: ``V`` → ``virtual``.
    """
    hook = request.registry.get(PRODUCT_SYSTEM_HOOK)
    if hook is not None:
        return hook(request, computers)
    return {c.id: "virtual" if c.machine == "V" else "" for c in computers}


def computer_architecture(request, computer) -> int | None:
    """Width (bits) of the processor or system node; null until the hardware addon provides
    ``ARCHITECTURE_HOOK``."""
    hook = request.registry.get(ARCHITECTURE_HOOK)
    return None if hook is None else hook(request, [computer]).get(computer.id)


def has_inventory_clause(computer_id):
    return exists(select(PackageHistory.id).where(PackageHistory.computer_id == computer_id))


# -- search --------------------------------------------------------------------------------------


class ComputerSearch:
    """The computers' search fields (the original's id, name, desktop user name and full name)
    as one field: ``apply_search`` calls ``ilike`` on each search field, and this one answers
    with a condition PostgreSQL can serve from indexes.

    An OR of ILIKEs over the computer and its joined desktop user is a filter on every row of
    the fleet; here each table is searched on its own (trigram indexes on the names) and the
    matches are combined by id. A word that is not all digits cannot match an id, so the id
    is not even looked at then.
    """

    def ilike(self, pattern: str, escape: str | None = None):
        users = select(ClientUser.id).where(
            or_(
                ClientUser.name.ilike(pattern, escape=escape),
                ClientUser.fullname.ilike(pattern, escape=escape),
            )
        )
        parts = [
            select(Computer.id).where(Computer.name.ilike(pattern, escape=escape)),
            select(Computer.id).where(Computer.sync_user_id.in_(users)),
        ]
        if pattern.strip("%").isdigit():
            # On its own: read from the primary key's index, not the whole table.
            parts.append(
                select(Computer.id).where(cast(Computer.id, String).ilike(pattern, escape=escape))
            )
        return Computer.id.in_(union(*parts))


# -- filters (spec D.4 computers row) ------------------------------------------------------------


def _status_in(lookup: str, value: str):
    """``status_in=a,b`` (a comma list under a plain name, as the original's custom filter)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    return Computer.status.in_(items) if items else true()


def _mac(lookup: str, value: str):
    return compare(Computer.mac_address, "icontains", value)


def _has_inventory(lookup: str, value: bool):
    clause = has_inventory_clause(Computer.id)
    return clause if value else not_(clause)


def _installed_package(lookup: str, value: int):
    if not 0 < value < 2**31:
        return false()  # no such package; PostgreSQL would reject the integer itself
    return exists(
        select(PackageHistory.id).where(
            PackageHistory.computer_id == Computer.id,
            PackageHistory.package_id == value,
            PackageHistory.uninstall_date.is_(None),
        )
    )


def _platform(lookup: str, value):
    return Computer.project_id.in_(
        select(Project.id).where(compare(Project.platform_id, lookup, value))
    )


_sync_value = related(
    computer_sync_attributes.c.computer_id,
    Attribute.value,
    owner_id=Computer.id,
    join=lambda q: q.join(Attribute, Attribute.id == computer_sync_attributes.c.attribute_id),
)


def _linked(table) -> Filter:
    return Filter(
        type="int",
        lookups=("exact", "in"),
        clause=related(table.c.computer_id, table.c.attribute_id, owner_id=Computer.id),
    )


FILTERS = {
    "id": Filter(Computer.id, "int", ("exact", "in")),
    "project__id": Filter(Computer.project_id, "int", ("exact", "in")),
    "platform": Filter(type="int", lookups=("exact", "in"), clause=_platform),
    "status": Filter(Computer.status, "str", ("exact", "in")),
    "status_in": Filter(type="str", clause=_status_in),
    "name": Filter(Computer.name, "str", ("exact", "icontains")),
    "uuid": Filter(Computer.uuid, "str", ("exact", "icontains")),
    "created_at": Filter(Computer.created_at, "datetime", ("gte", "lt")),
    "sync_end_date": Filter(Computer.sync_end_date, "datetime", ("lt", "gte", "isnull")),
    "sync_attributes": Filter(
        type="str", clause=lambda lookup, value: _sync_value("contains", value)
    ),
    "sync_attributes__id": _linked(computer_sync_attributes),
    "tags__id": _linked(computer_tags),
    "mac_address": Filter(type="str", lookups=("exact", "icontains"), clause=_mac),
    "has_software_inventory": Filter(type="bool", clause=_has_inventory),
    "installed_package": Filter(type="int", clause=_installed_package),
    "machine": Filter(Computer.machine, "str"),
    "product": Filter(Computer.product, "str", ("exact", "icontains")),
    "sync_user__id": Filter(Computer.sync_user_id, "int", ("exact", "in")),
    "sync_user__name": Filter(ClientUser.name, "str", ("exact", "icontains")),
}
ORDERING = {
    name: getattr(Computer, column)
    for name, column in {
        "id": "id",
        "uuid": "uuid",
        "name": "name",
        "status": "status",
        "fqdn": "fqdn",
        "project": "project_id",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "ip_address": "ip_address",
        "forwarded_ip_address": "forwarded_ip_address",
        "last_hardware_capture": "last_hardware_capture",
        "sync_start_date": "sync_start_date",
        "sync_end_date": "sync_end_date",
        "sync_user": "sync_user_id",
        "product": "product",
        "machine": "machine",
        "cpu": "cpu",
        "ram": "ram",
        "storage": "storage",
        "disks": "disks",
        "mac_address": "mac_address",
        "comment": "comment",
    }.items()
}
ORDERING["project__name"] = (
    select(Project.name).where(Project.id == Computer.project_id).scalar_subquery()
)
ORDERING["sync_user__name"] = ClientUser.name


# -- write schema -------------------------------------------------------------------------------


class ComputerSchema(Schema):
    name = optional(OptionalText(), max_length(50))
    last_hardware_capture = optional(NullableDateTime())
    status = optional(colander.String(), colander.OneOf(list(statuses.STATUSES)))
    comment = optional(OptionalText())
    tags = optional(TagIds())
    project = Integer()


def load_tags(request, ids) -> list[Attribute]:
    """Attributes for ``tags``: only tags (attributes of server-sort properties) are accepted."""
    rows = load_rows(request, Attribute, ids, "tags")
    wrong = [a for a in rows if a.property_att.sort != "server"]
    if wrong:
        raise validation_error(
            {"tags": f"{wrong[0]} is not a tag (an attribute of a server-sort property)."}
        )
    return rows


# -- shapes -------------------------------------------------------------------------------------


def project_nested(project: Project) -> dict:
    platform = project.platform
    return {
        "id": project.id,
        "name": project.name,
        "slug": project.slug,
        "platform": {"id": platform.id, "name": platform.name},
    }


def list_shape(computer: Computer, product_system: str) -> dict:
    """ComputerListSerializer."""
    return {
        "id": computer.id,
        "uuid": computer.uuid,
        "name": computer.name,
        "project": project_nested(computer.project),
        "status": computer.status,
        "product": computer.product,
        "product_system": product_system,
        "created_at": computer.created_at,
        "last_hardware_capture": computer.last_hardware_capture,
        "sync_user": client_user_info(computer.sync_user),
        "sync_end_date": computer.sync_end_date,
        "__str__": str(computer),
        "summary": computer_info(computer)["summary"],
    }


def detail_shape(request, computer: Computer) -> dict:
    """ComputerSerializer: the list fields plus identification, hardware summary and tags."""
    url = f"{request.application_url}{API_PREFIX}computers/{computer.id}/software/"
    inventory = request.dbsession.scalar(select(has_inventory_clause(computer.id)))
    return {
        **list_shape(computer, product_systems(request, [computer]).get(computer.id, "")),
        "fqdn": computer.fqdn,
        "ip_address": computer.ip_address,
        "forwarded_ip_address": computer.forwarded_ip_address,
        "tags": attribute_list(computer.tags),
        "software_inventory": url + "inventory/",
        "software_history": url + "history/",
        "has_software_inventory": bool(inventory),
        "machine": computer.machine,
        "cpu": computer.cpu,
        "architecture": computer_architecture(request, computer),
        "ram": computer.ram,
        "storage": computer.storage,
        "disks": computer.disks,
        "mac_address": computer.mac_address,
        "comment": computer.comment,
    }


# -- the resource -------------------------------------------------------------------------------


class ComputerResource(ComputerActions, Resource):
    path = "computers"
    model = Computer
    permission_model = "client.computer"
    scoping = ByComputer(Computer.id)
    schema = ComputerSchema
    operations = frozenset({"list", "retrieve", "update", "partial_update", "destroy"})
    filters = FILTERS
    search_fields = (ComputerSearch(),)
    ordering = ORDERING
    default_ordering = ("id",)
    detail_options = (selectinload(Computer.tags),)

    def query(self, request):
        # An explicit join (instead of the relationship's eager join) so that search, filters and
        # ordering can use the desktop user's columns.
        return (
            select(Computer)
            .outerjoin(ClientUser, ClientUser.id == Computer.sync_user_id)
            .options(contains_eager(Computer.sync_user))
        )

    def serialize(self, obj, request):
        return detail_shape(request, obj)

    def load_list(self, rows, request):
        systems = product_systems(request, rows)
        return [list_shape(row, systems.get(row.id, "")) for row in rows]

    def apply(self, request, obj, data, creating):
        # Resolve every id before touching obj: a query autoflushes pending changes.
        project = (
            load_row(request, Project, data["project"], "project") if "project" in data else None
        )
        tags = load_tags(request, data["tags"]) if "tags" in data else None
        if project is not None:
            # Like the original, no Migration row: only the sync path records migrations (B.9).
            obj.project = project
        for key in ("name", "comment", "last_hardware_capture"):
            if key in data:
                setattr(obj, key, data[key])
        if tags is not None:
            obj.tags = tags
        if "status" in data:
            change_status(request, obj, data["status"])
        if statuses.clears_tags(obj.status):
            # The original clears on every save of an available/unsubscribed computer, so tags
            # sent together with (or to) such a computer do not stay.
            retire(request.dbsession, obj)

    def delete(self, request, obj):
        session = request.dbsession
        cid = cid_attribute(session, obj, create=False)
        session.delete(obj)
        session.flush()
        if cid is not None:
            # Its links (deployments, sets, delays, domains...) go with it by ON DELETE CASCADE.
            session.execute(delete(Attribute).where(Attribute.id == cid.id))

    # -- actions ----------------------------------------------------------------------------------
    @action("status", detail=False, permission="view")
    def status_choices(self, request, context):
        """The status values with their labels, and the groups the rules use (spec B.8)."""
        return {
            "choices": STATUS_LABELS,
            "productive": list(statuses.PRODUCTIVE_ORDERED),
            "unproductive": list(statuses.UNPRODUCTIVE_ORDERED),
            "active": list(statuses.ACTIVE_ORDERED),
            "subscribed": list(statuses.SUBSCRIBED_ORDERED),
            "unsubscribed": list(statuses.UNSUBSCRIBED_ORDERED),
        }

    def set_status_view(self, request, context):
        """``POST {id}/status/`` ``{status}`` → the computer (400 listing the valid values)."""
        value = json_body(request).get("status")
        if value not in statuses.STATUSES:
            raise validation_error(
                {"status": "Status must have one of the values: " + ", ".join(statuses.STATUSES)}
            )
        computer = context.obj
        change_status(request, computer, value)
        request.dbsession.flush()
        return detail_shape(request, computer)

    @action("label", detail=True, permission="view")
    def label(self, request, context):
        """What the printed label of a computer shows."""
        computer = context.obj
        return {
            "uuid": computer.uuid,
            "name": computer.name,
            "search": str(computer),
            "helpdesk": request.registry.settings.get("clients.helpdesk", ""),
        }


def register_status_view(config) -> None:
    """``POST computers/{id}/status/`` by hand: ``@action`` names its service after the action,
    and ``GET computers/status/`` already uses that name."""
    resource = ComputerResource()

    def factory(request):
        return CollectionContext(resource, request)

    service = Service(
        name="computers.action.set-status",
        path=API_PREFIX + r"computers/{id:\d+}/status/",
        factory=factory,
        traverse="/{id}",
        renderer="json",
    )
    service.add_view(
        "POST",
        lambda request: resource.set_status_view(request, request.context),
        permission=resource.permission("change"),
    )
    config.add_cornice_service(service)


def includeme(config) -> None:
    config.register_resource(ComputerResource)
    register_status_view(config)
