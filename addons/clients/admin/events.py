"""What computers report as events: errors, faults, migrations, status logs and synchronizations
(spec A.2.4-A.2.11, D.4). Read-only but for ``checked`` on errors and faults (spec B.10)."""

from __future__ import annotations

import colander
from sqlalchemy import String, cast, exists, not_, or_, select, true
from sqlalchemy.orm import selectinload

from migasfree_pyramid.api import Resource, action
from migasfree_pyramid.api.errors import validation_error
from migasfree_pyramid.api.filters import Filter
from migasfree_pyramid.api.schemas import LenientBoolean, Schema
from migasfree_pyramid.core_api.nested import project_info
from migasfree_pyramid.models import ClientUser, StatusLog
from migasfree_pyramid.scoping import ByComputer, ByComputerAndProject

from ..models import Error, Fault, Migration, Synchronization, fault_definition_users
from .shapes import (
    client_user_info,
    computer_column,
    computer_filters,
    computer_info,
    created_at_filter,
    event_str,
    id_text,
    platform_filter,
    sync_info,
    through,
    user_column,
)

READ_ONLY = frozenset({"list", "retrieve", "destroy"})
CHECKABLE = frozenset({"list", "retrieve", "update", "partial_update", "destroy"})


class CheckedSchema(Schema):
    """The only field administrators change on errors and faults."""

    checked = colander.SchemaNode(LenientBoolean(), missing=colander.drop)


def ordering(model, *columns: str) -> dict:
    """DRF's ``ordering_fields='__all__'`` over these columns, plus ``computer__name``.

    A foreign key orders by its id under the relation's name (``computer_id`` → ``computer``).
    """
    found = {column.removesuffix("_id"): getattr(model, column) for column in columns}
    found["computer__name"] = computer_column(model)
    return found


def _event_filters(model, *, status: bool = False, project: bool = True) -> dict[str, Filter]:
    filters = {
        "id": Filter(model.id, "int", ("exact", "in")),
        "created_at": created_at_filter(model),
        **computer_filters(model, status=status),
    }
    if project:
        filters["project__id"] = Filter(model.project_id, "int", ("exact", "in"))
        filters["project__platform__id"] = platform_filter(model.project_id)
    return filters


def related_rows(model, *names: str) -> tuple:
    """Loader options for a page of events: each related row kind in one more statement.

    Joined eager loads (computer, its project, platform and desktop user, the event's project
    and platform...) put more tables in a page's statement than PostgreSQL searches for the
    best join order (join_collapse_limit, 8): with a domain admin's scoping on top it joined
    the whole table (two million synchronizations) before filtering. A statement per kind keeps
    the page's own statement to the events table and its scoping.
    """
    return tuple(selectinload(getattr(model, name)) for name in names)


class EventResource(Resource):
    operations = READ_ONLY
    default_ordering = ("-created_at",)
    estimated_count = True

    def apply(self, request, obj, data, creating):
        if "checked" in data:
            obj.checked = data["checked"]


class ErrorResource(EventResource):
    path = "errors"
    model = Error
    permission_model = "client.error"
    scoping = ByComputerAndProject(Error.computer_id, Error.project_id)
    schema = CheckedSchema
    operations = CHECKABLE
    filters = {
        **_event_filters(Error, status=True),
        "checked": Filter(Error.checked, "bool"),
        "description": Filter(Error.description, "str", ("icontains",)),
    }
    search_fields = (cast(Error.created_at, String), Error.description)
    ordering = ordering(
        Error,
        "id",
        "created_at",
        "computer_id",
        "project_id",
        "checked",
        "description",
        "synchronization_id",
    )
    # Only id, start and creation date of the linked sync are shown: load nothing more with it.
    list_options = detail_options = (
        selectinload(Error.synchronization).lazyload("*"),
        *related_rows(Error, "computer", "project"),
    )

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "__str__": event_str(obj),
            "project": project_info(obj.project),
            "computer": computer_info(obj.computer),
            "synchronization": sync_info(obj.synchronization),
            "created_at": obj.created_at,
            "checked": obj.checked,
            "description": obj.description,
        }


# -- faults -------------------------------------------------------------------------------------

USER_CHOICES = {
    "me": "To check for me",
    "only_me": "Assigned to me",
    "others": "Assigned to others",
    "unassigned": "Unassigned",
}


def _fault_user(lookup: str, value: str, request):
    """Faults by who must check them, relative to the caller (spec B.10).

    ``me``: definitions listing the caller or nobody; ``only_me``: listing the caller;
    ``others``: listing someone but not the caller; ``unassigned``: listing nobody.
    """
    if not value.strip():
        return true()
    if value not in USER_CHOICES:
        raise validation_error(
            {"user": f"Select a valid choice. {value} is not one of the available choices."},
            "querystring",
        )
    user = getattr(request.identity, "user", None)
    users = fault_definition_users.c
    assigned = exists(
        select(users.faultdefinition_id).where(
            users.faultdefinition_id == Fault.fault_definition_id
        )
    )
    mine = exists(
        select(users.faultdefinition_id).where(
            users.faultdefinition_id == Fault.fault_definition_id,
            users.userprofile_id == (user.id if user is not None else None),
        )
    )
    return {
        "me": or_(not_(assigned), mine),
        "only_me": mine,
        "others": assigned & not_(mine),
        "unassigned": not_(assigned),
    }[value]


class FaultResource(EventResource):
    path = "faults"
    model = Fault
    permission_model = "client.fault"
    scoping = ByComputerAndProject(Fault.computer_id, Fault.project_id)
    schema = CheckedSchema
    operations = CHECKABLE
    filters = {
        **_event_filters(Fault),
        "user": Filter(type="str", clause=_fault_user, with_request=True),
        "checked": Filter(Fault.checked, "bool"),
        "fault_definition__id": Filter(Fault.fault_definition_id, "int", ("exact", "in")),
        # The spec's table spells it with one underscore; accept both.
        "fault_definition_id": Filter(Fault.fault_definition_id, "int", ("exact", "in")),
        "result": Filter(Fault.result, "str", ("icontains",)),
    }
    search_fields = (cast(Fault.created_at, String), Fault.result)
    ordering = ordering(
        Fault,
        "id",
        "created_at",
        "computer_id",
        "project_id",
        "fault_definition_id",
        "checked",
        "result",
        "synchronization_id",
    )
    list_options = detail_options = (
        selectinload(Fault.synchronization).lazyload("*"),
        *related_rows(Fault, "computer", "project", "fault_definition"),
    )

    def serialize(self, obj, request):
        definition = obj.fault_definition
        return {
            "id": obj.id,
            "__str__": event_str(obj),
            "project": project_info(obj.project),
            "computer": computer_info(obj.computer),
            "fault_definition": {"id": definition.id, "name": definition.name},
            "synchronization": sync_info(obj.synchronization),
            "created_at": obj.created_at,
            "checked": obj.checked,
            "result": obj.result,
        }

    @action("user", detail=False, permission="view")
    def user_choices(self, request, context):
        """The values of the ``user`` filter with their labels."""
        return {"choices": USER_CHOICES}


# -- migrations, status logs, synchronizations --------------------------------------------------


class MigrationResource(EventResource):
    path = "migrations"
    model = Migration
    permission_model = "client.migration"
    scoping = ByComputerAndProject(Migration.computer_id, Migration.project_id)
    filters = _event_filters(Migration)
    search_fields = (computer_column(Migration), id_text(Migration.computer_id))
    ordering = ordering(Migration, "id", "created_at", "computer_id", "project_id")
    list_options = detail_options = related_rows(Migration, "computer", "project")

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "created_at": obj.created_at,
            "computer": computer_info(obj.computer),
            "project": project_info(obj.project),
        }


class StatusLogResource(EventResource):
    path = "status-logs"
    model = StatusLog
    permission_model = "client.statuslog"
    scoping = ByComputer(StatusLog.computer_id)
    filters = {
        **_event_filters(StatusLog, project=False),
        "status": Filter(StatusLog.status, "str", ("exact", "in")),
    }
    search_fields = (StatusLog.status, computer_column(StatusLog))
    ordering = ordering(StatusLog, "id", "created_at", "computer_id", "status")
    # The core model's relationship is lazy; one joined statement for a page.
    list_options = detail_options = related_rows(StatusLog, "computer")

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "created_at": obj.created_at,
            "status": obj.status,
            "computer": computer_info(obj.computer),
        }


class SyncResource(EventResource):
    path = "syncs"
    model = Synchronization
    permission_model = "client.synchronization"
    scoping = ByComputer(Synchronization.computer_id)
    filters = {
        **_event_filters(Synchronization),
        "start_date": Filter(Synchronization.start_date, "datetime", ("gte", "lt")),
        "user__id": Filter(Synchronization.user_id, "int", ("exact", "in")),
        "user__name": Filter(
            type="str",
            lookups=("exact", "icontains"),
            clause=through(Synchronization.user_id, ClientUser.name),
        ),
        "pms_status_ok": Filter(Synchronization.pms_status_ok, "bool"),
        "consumer": Filter(Synchronization.consumer, "str", ("exact", "icontains")),
    }
    search_fields = (
        user_column(Synchronization),
        user_column(Synchronization, ClientUser.fullname),
        computer_column(Synchronization),
        Synchronization.consumer,
    )
    ordering = ordering(
        Synchronization,
        "id",
        "created_at",
        "start_date",
        "computer_id",
        "project_id",
        "user_id",
        "consumer",
        "pms_status_ok",
    )
    list_options = detail_options = related_rows(Synchronization, "computer", "project", "user")

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "created_at": obj.created_at,
            "start_date": obj.start_date,
            "consumer": obj.consumer,
            "pms_status_ok": obj.pms_status_ok,
            "project": project_info(obj.project),
            "user": client_user_info(obj.user),
            "computer": computer_info(obj.computer),
        }


def includeme(config) -> None:
    for resource in (
        ErrorResource,
        FaultResource,
        MigrationResource,
        StatusLogResource,
        SyncResource,
    ):
        config.register_resource(resource)
