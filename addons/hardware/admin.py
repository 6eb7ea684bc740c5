"""Admin API of hardware trees (spec D.5) and ``GET computers/{id}/hardware/`` (D.4)."""

from __future__ import annotations

from cornice import Service
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from migasfree_pyramid.api import Resource, action
from migasfree_pyramid.api.filters import Filter
from migasfree_pyramid.api.resource import SCOPE_HOOK, RootChild
from migasfree_pyramid.core_api.nested import computer_info
from migasfree_pyramid.models import Computer
from migasfree_pyramid.scoping import ByComputer

from . import HardwarePermission
from .models import TEXT_FIELDS, HardwareNode

NODE_FIELDS = (
    "id",
    "level",
    "width",
    "name",
    "class_name",
    "enabled",
    "claimed",
    *TEXT_FIELDS,
    "size",
    "capacity",
    "clock",
)
# The original filters every text field but ``version``.
TEXT_FILTERS = tuple(field for field in TEXT_FIELDS if field != "version")


def node_fields(node: HardwareNode) -> dict:
    data = {field: getattr(node, field) for field in NODE_FIELDS}
    data["parent"] = node.parent_id
    return data


def _exact(column, kind: str) -> Filter:
    return Filter(column, kind, ("exact",))


class NodeResource(Resource):
    path = "hardware"
    model = HardwareNode
    permission_model = "hardware.node"
    scoping = ByComputer(HardwareNode.computer_id)
    operations = frozenset({"list", "retrieve"})
    # The original has no export resource for nodes ("Export not supported").
    exportable = False
    filters = {
        "computer__id": _exact(HardwareNode.computer_id, "int"),
        "id": _exact(HardwareNode.id, "int"),
        "parent": _exact(HardwareNode.parent_id, "int"),
        "level": _exact(HardwareNode.level, "int"),
        "width": _exact(HardwareNode.width, "bigint"),
        "size": _exact(HardwareNode.size, "bigint"),
        "capacity": _exact(HardwareNode.capacity, "bigint"),
        "clock": _exact(HardwareNode.clock, "bigint"),
        "enabled": _exact(HardwareNode.enabled, "bool"),
        "claimed": _exact(HardwareNode.claimed, "bool"),
        "name": _exact(HardwareNode.name, "str"),
        "class_name": _exact(HardwareNode.class_name, "str"),
        **{field: _exact(getattr(HardwareNode, field), "str") for field in TEXT_FILTERS},
    }
    # Ordering "__all__": every concrete field, foreign keys by their id.
    ordering = {
        **{field: getattr(HardwareNode, field) for field in NODE_FIELDS},
        "parent": HardwareNode.parent_id,
        "computer": HardwareNode.computer_id,
    }
    default_ordering = ("id",)
    list_options = (selectinload(HardwareNode.computer),)
    detail_options = (selectinload(HardwareNode.computer),)

    def serialize(self, obj, request):
        return {**node_fields(obj), "computer": computer_info(obj.computer)}

    @action("info", detail=True)
    def info(self, request, context):
        """The node with its capabilities, logical names and configuration."""
        node = context.obj
        session = request.dbsession
        loaded = session.scalars(
            select(HardwareNode)
            .where(HardwareNode.id == node.id)
            .options(
                selectinload(HardwareNode.capabilities),
                selectinload(HardwareNode.logical_names),
                selectinload(HardwareNode.configurations),
            )
        ).one()
        return {
            "name": node.name,
            "computer": computer_info(node.computer),
            "capability": [
                {"id": c.id, "name": c.name, "description": c.description}
                for c in loaded.capabilities
            ],
            "logical_name": [{"name": n.name} for n in loaded.logical_names],
            "configuration": [{"name": c.name, "value": c.value} for c in loaded.configurations],
        }


# -- GET computers/{id}/hardware/ ----------------------------------------------------------------

MAX_ID = 2**31 - 1


def scoped_computers(request, query):
    """Computers the caller may see, as the computers resource (when registered) scopes them."""
    hook = request.registry.get(SCOPE_HOOK)
    for resource in request.registry.get("migasfree.resources", []):
        if resource.model is Computer:
            return hook(request, resource, query) if hook else resource.scope(request, query)
    return query


class ComputerItem:
    def __init__(self, parent, computer: Computer, key: str):
        self.__parent__ = parent
        self.__name__ = key
        self.computer = computer


class ComputersContext(RootChild):
    """Traversal over computers: a missing (or invisible) id is a 404."""

    __name__ = "computers"

    def __getitem__(self, key: str) -> ComputerItem:
        # An id past the column's range is simply not found (PostgreSQL would raise).
        if not key.isdigit() or int(key) > MAX_ID:
            raise KeyError(key)
        query = scoped_computers(self.request, select(Computer).where(Computer.id == int(key)))
        computer = self.request.dbsession.scalars(query).unique().first()
        if computer is None:
            raise KeyError(key)
        return ComputerItem(self, computer, key)


computer_hardware = Service(
    name="hardware.computer-hardware",
    path=r"/api/v1/token/computers/{id:\d+}/hardware/",
    factory=ComputersContext,
    traverse="/{id}",
    renderer="json",
)


@computer_hardware.get(permission=HardwarePermission.VIEW_NODE)
def get_computer_hardware(request):
    """The computer's nodes as a flat list (no nested computer), ordered id, parent, level."""
    nodes = request.dbsession.scalars(
        select(HardwareNode)
        .where(HardwareNode.computer_id == request.context.computer.id)
        .order_by(HardwareNode.id, HardwareNode.parent_id, HardwareNode.level)
    )
    return [{**node_fields(node), "computer": node.computer_id} for node in nodes]


def includeme(config) -> None:
    config.register_resource(NodeResource)
    config.add_cornice_service(computer_hardware)
