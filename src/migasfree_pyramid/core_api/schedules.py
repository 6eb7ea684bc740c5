"""Schedules and their delays (spec D.3, A.1.11-A.1.12)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..api import Resource
from ..api.errors import conflict
from ..api.filters import Filter, compare
from ..api.related import ensure_unique, load_row, load_rows
from ..api.schemas import IdList, Integer, Schema, Text
from ..models import Attribute, Deployment, Schedule, ScheduleDelay
from ..models.schedules import schedule_delay_attributes
from ..scoping import ByLinkedAttribute, Unscoped
from .nested import attributes, named


class ScheduleSchema(Schema):
    name = Text(50)
    description = Text(required=False, nullable=True)


class ScheduleResource(Resource):
    path = "schedules"
    model = Schedule
    permission_model = "core.schedule"
    scoping = Unscoped("schedules are calendars shared by every domain")
    schema = ScheduleSchema
    filters = {
        "id": Filter(Schedule.id, "int", ("exact", "in")),
        "name": Filter(Schedule.name, "str", ("exact", "icontains")),
    }
    search_fields = (Schedule.name,)
    ordering = {"id": Schedule.id, "name": Schedule.name, "description": Schedule.description}
    default_ordering = ("name",)

    @staticmethod
    def _shape(obj, delays_count: int) -> dict:
        return {
            "id": obj.id,
            "name": obj.name,
            "description": obj.description,
            "delays_count": delays_count,
        }

    def serialize(self, obj, request):
        return self.load_list([obj], request)[0]

    def load_list(self, rows, request):
        # One grouped COUNT for the whole page instead of one per schedule; a delegated admin
        # counts only the delays they can see (as schedule-delays/ lists them).
        ids = [row.id for row in rows]
        counts = {}
        if ids:
            query = (
                select(ScheduleDelay.schedule_id, func.count(ScheduleDelay.id))
                .where(ScheduleDelay.schedule_id.in_(ids))
                .group_by(ScheduleDelay.schedule_id)
            )
            if request.visibility is not None:
                query = ScheduleDelayResource.scoping.apply(request, query, request.visibility)
            counts = dict(request.dbsession.execute(query).all())
        return [self._shape(row, counts.get(row.id, 0)) for row in rows]

    def apply(self, request, obj, data, creating):
        if "name" in data:
            ensure_unique(
                request,
                Schedule,
                "name",
                {"name": data["name"]},
                obj.id,
                "schedule with this name already exists.",
            )
            obj.name = data["name"]
        if "description" in data:
            obj.description = data["description"]

    def delete(self, request, obj):
        # Fix of spec F.21: the original cascaded and silently deleted the deployments using
        # the schedule; the foreign key is RESTRICT here and the caller gets a clear 409.
        names = request.dbsession.scalars(
            select(Deployment.name)
            .where(Deployment.schedule_id == obj.id)
            .order_by(Deployment.name)
        ).all()
        if names:
            raise conflict(f"The schedule is used by deployments: {', '.join(names)}")
        request.dbsession.delete(obj)


class ScheduleDelaySchema(Schema):
    delay = Integer(minimum=0)
    schedule = Integer()
    attributes = IdList()
    # The model default (1) makes it optional on input, as in the original serializer.
    duration = Integer(required=False, minimum=1)


def _schedule_name(lookup: str, value):
    return ScheduleDelay.schedule_id.in_(
        select(Schedule.id).where(compare(Schedule.name, lookup, value))
    )


class ScheduleDelayResource(Resource):
    path = "schedule-delays"
    model = ScheduleDelay
    permission_model = "core.scheduledelay"
    scoping = ByLinkedAttribute(
        ScheduleDelay.id,
        schedule_delay_attributes.c.scheduledelay_id,
        schedule_delay_attributes.c.attribute_id,
    )
    schema = ScheduleDelaySchema
    exportable = False
    filters = {
        "id": Filter(ScheduleDelay.id, "int", ("exact", "in")),
        "schedule__id": Filter(ScheduleDelay.schedule_id, "int", ("exact", "in")),
        "schedule__name": Filter(type="str", lookups=("exact", "icontains"), clause=_schedule_name),
    }
    ordering = {
        "id": ScheduleDelay.id,
        "delay": ScheduleDelay.delay,
        "duration": ScheduleDelay.duration,
        "schedule": ScheduleDelay.schedule_id,
    }
    default_ordering = ("delay",)
    list_options = (selectinload(ScheduleDelay.attributes),)
    detail_options = list_options

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "delay": obj.delay,
            "duration": obj.duration,
            "attributes": attributes(obj.attributes),
            "schedule": named(obj.schedule),
        }

    def apply(self, request, obj, data, creating):
        # Everything is validated before the row is touched: assigning ``schedule`` links the
        # delay to a loaded schedule, and a half-built linked row must never be left behind.
        schedule = (
            load_row(request, Schedule, data["schedule"], "schedule")
            if "schedule" in data
            else obj.schedule
        )
        delay = data.get("delay", obj.delay)
        if "delay" in data or "schedule" in data:
            ensure_unique(
                request,
                ScheduleDelay,
                "delay",
                {"schedule_id": schedule.id, "delay": delay},
                obj.id,
                "The fields schedule, delay must make a unique set.",
            )
        if "attributes" in data:
            obj.attributes = load_rows(request, Attribute, data["attributes"], "attributes")
        if data.get("duration") is not None:
            obj.duration = data["duration"]
        elif creating:
            obj.duration = 1
        obj.schedule, obj.delay = schedule, delay


def includeme(config) -> None:
    for resource in (ScheduleResource, ScheduleDelayResource):
        config.register_resource(resource)
