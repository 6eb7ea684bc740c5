"""Declarative admin resources: one class per route of the admin API, CRUD included.

A ``Resource`` says which model it lists, how rows become JSON, which filters, search fields and
orderings it accepts, its write schema and the permission model. ``register_resource`` turns it
into Cornice services on a traversal context:

    /api/v1/token/<path>/                  GET list, POST create        (CollectionContext)
    /api/v1/token/<path>/filter/           POST list with filters in the body
    /api/v1/token/<path>/export/           GET/POST CSV of the filtered list
    /api/v1/token/<path>/<id>/             GET, PUT, PATCH, DELETE      (ItemContext)
    /api/v1/token/<path>[/<id>]/<action>/  extra actions declared with ``@action``

Every query a context runs goes through ``scoped_query``, the single hook where the visibility of
a delegated domain administrator is applied (``SCOPE_HOOK`` in the registry).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from cornice import Service
from pyramid.exceptions import ConfigurationError
from pyramid.response import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from ..resources import Root
from ..security.permissions import perm
from .errors import conflict
from .filters import Filter, apply_filters, apply_ordering, apply_search
from .pagination import count_rows, paginate
from .schemas import json_body, partial, validate

API_PREFIX = "/api/v1/token/"
SCOPE_HOOK = "migasfree.scope_hook"
PRUNE_HOOK = "migasfree.prune_hook"
RESERVED_PARAMS = {"page", "page_size", "ordering", "search", "format"}
ACTIONS = ("view", "add", "change", "delete")


@dataclass(frozen=True)
class ActionSpec:
    name: str
    detail: bool
    methods: tuple[str, ...]
    permission: str
    func: Callable | None = None


def action(name: str, *, detail: bool, methods=("GET",), permission: str = "view"):
    """Declare an extra endpoint on a resource method ``(self, request, context)``.

    ``permission`` is an action of the resource's permission model (view/add/change/delete) or a
    full codename.
    """

    def decorate(func):
        func.action_spec = ActionSpec(name, detail, tuple(methods), permission)
        return func

    return decorate


class Resource:
    """Base of every admin resource. Subclasses set the class attributes and override hooks."""

    path: ClassVar[str]
    model: ClassVar[type]
    permission_model: ClassVar[str]
    filters: ClassVar[dict[str, Filter]] = {}
    search_fields: ClassVar[tuple] = ()
    ordering: ClassVar[dict[str, Any]] = {}
    default_ordering: ClassVar[tuple[str, ...]] = ()
    schema: ClassVar[type | None] = None
    operations: ClassVar[frozenset[str]] = frozenset(
        {"list", "create", "retrieve", "update", "partial_update", "destroy"}
    )
    exportable: ClassVar[bool] = True
    # An event log that grows without bound: its unfiltered list may answer an estimated count
    # (api/pagination.py) when it holds more than ``migasfree.exact_count_limit`` rows.
    estimated_count: ClassVar[bool] = False
    list_options: ClassVar[tuple] = ()
    detail_options: ClassVar[tuple] = ()
    # How rows relate to a restricted user's view (a ``scoping.Scoping``); required.
    scoping: ClassVar[object] = None

    # -- reading -------------------------------------------------------------------------------
    def query(self, request) -> Select:
        """All rows of this resource, before scoping and filters."""
        return select(self.model)

    def scope(self, request, query: Select) -> Select:
        """Ownership rules that apply to every caller (a user's own scopes...). Domain
        visibility is not here: it is ``scoping``, applied by the SCOPE_HOOK."""
        return query

    def serialize(self, obj, request) -> dict:
        raise NotImplementedError

    def serialize_list(self, obj, request) -> dict:
        return self.serialize(obj, request)

    def load_list(self, rows: list, request) -> list[dict]:
        """Turn a page of rows into dicts; override to batch-load what rows share."""
        return [self.serialize_list(row, request) for row in rows]

    # -- writing -------------------------------------------------------------------------------
    def write_schema(self, request, obj=None):
        return self.schema()

    def create(self, request, data: dict):
        obj = self.model()
        self.apply(request, obj, data, creating=True)
        request.dbsession.add(obj)
        return obj

    def update(self, request, obj, data: dict) -> None:
        self.apply(request, obj, data, creating=False)

    def apply(self, request, obj, data: dict, creating: bool) -> None:
        """Copy validated ``data`` onto ``obj``; resolve ids of related rows here."""
        for key, value in data.items():
            setattr(obj, key, value)

    def delete(self, request, obj) -> None:
        request.dbsession.delete(obj)

    # -- permissions ---------------------------------------------------------------------------
    def permission(self, action_name: str) -> str:
        return perm(self.permission_model, action_name) if "." not in action_name else action_name

    def item_acl(self, obj, request) -> list:
        """Extra ACEs on one row (domain ownership rules add Deny entries here)."""
        return []


class RootChild:
    """Gives contexts a lineage up to the application root (whose ACL maps permissions)."""

    def __init__(self, request):
        self.request = request
        # The route factory replaces the root factory, so build the root here.
        self.__parent__ = Root(request)


class CollectionContext(RootChild):
    def __init__(self, resource: Resource, request):
        super().__init__(request)
        self.resource = resource
        self.__name__ = resource.path

    def scoped_query(self, query: Select | None = None) -> Select:
        query = self.resource.query(self.request) if query is None else query
        hook = self.request.registry.get(SCOPE_HOOK)
        if hook is None:
            return self.resource.scope(self.request, query)
        return hook(self.request, self.resource, query)

    def __getitem__(self, key: str):
        # Ids beyond the 32-bit primary keys cannot exist; asking the database would fail.
        if not key.isdigit() or int(key) >= 2**31:
            raise KeyError(key)
        model = self.resource.model
        query = self.scoped_query().where(model.id == int(key))
        query = query.options(*self.resource.detail_options)
        obj = self.request.dbsession.scalars(query).unique().first()
        if obj is None:
            raise KeyError(key)
        return ItemContext(self, obj, key)


class ItemContext:
    def __init__(self, collection: CollectionContext, obj, key: str):
        self.__parent__ = collection
        self.__name__ = key
        self.resource = collection.resource
        self.obj = obj

    @property
    def __acl__(self):
        return self.resource.item_acl(self.obj, self.__parent__.request)


# -- generic views -----------------------------------------------------------------------------


def filter_params(params) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in RESERVED_PARAMS}


def listed_query(request, context: CollectionContext, params) -> Select:
    resource = context.resource
    query = context.scoped_query()
    query = apply_filters(query, filter_params(params), resource.filters, request)
    query = apply_search(query, params.get("search"), resource.search_fields)
    query = apply_ordering(
        query,
        params.get("ordering"),
        resource.ordering,
        resource.default_ordering,
        resource.model.id,
    )
    return query.options(*resource.list_options)


def list_view(request):
    context = request.context
    query = listed_query(request, context, request.GET)
    # Only the whole log, as an unrestricted caller sees it: the planner's estimate of a
    # filtered or scoped list can be off by orders of magnitude.
    may_estimate = (
        context.resource.estimated_count
        and not filter_params(request.GET)
        and not request.GET.get("search")
        and request.visibility is None
    )
    return paginate(
        request,
        query,
        lambda rows: context.resource.load_list(rows, request),
        may_estimate=may_estimate,
    )


def filter_view(request):
    """POST ``filter/``: the same list with filters in the JSON body (long ``id__in`` lists)."""
    context = request.context
    params = dict(request.GET.items())
    params.update(
        {
            k: ",".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in json_body(request).items()
        }
    )
    query = listed_query(request, context, params)
    return paginate(request, query, lambda rows: context.resource.load_list(rows, request))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(
            value.get("name") or value.get("fullname") or value.get("value") or value.get("id")
        )
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    return str(value)


def export_view(request):
    """CSV of the filtered, searched and ordered list (every page)."""
    context = request.context
    params = dict(request.GET.items())
    if request.method == "POST" and request.body:
        params.update({k: str(v) for k, v in json_body(request).items()})
    query = listed_query(request, context, params)
    rows = request.dbsession.scalars(query).unique().all()
    records = context.resource.load_list(rows, request)
    prune = request.registry.get(PRUNE_HOOK)
    if prune is not None:
        records = prune(records, request)
    out = io.StringIO()
    if records:
        writer = csv.DictWriter(out, fieldnames=list(records[0]), extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _cell(v) for k, v in record.items()})
    name = context.resource.path.replace("/", "-")
    response = Response(body=out.getvalue().encode(), content_type="text/csv", charset="utf-8")
    response.content_disposition = f'attachment; filename="{name}.csv"'
    return response


def model_key(model) -> str:
    """How other resources' filters name this model (``project__id``, ``packageset__id``)."""
    return model.__name__.lower()


def badge_view(request):
    """``{pk, text}`` of a row, plus ``status`` and ``summary`` for computers (spec D.2)."""
    context = request.context
    obj = context.obj
    text = getattr(obj, "name", None) or getattr(obj, "username", None) or str(obj)
    badge = {"pk": obj.id, "text": text}
    if hasattr(obj, "status") and hasattr(obj, "sync_user"):
        from ..core_api.nested import computer_summary

        badge.update(text=str(obj), status=obj.status, summary=computer_summary(obj))
    return badge


def relations_view(request):
    """The rows of other resources that point at this one, with their (scoped) counts.

    Derived from the other resources' filters: a resource with a ``<model>__id`` filter lists
    the rows related to a ``<model>``. One COUNT per related resource, each through that
    resource's own scoping (spec D.2 ``relations/``; the original's hand-kept link table also
    listed special cases this does not: the CID attribute of a computer and the like).
    """
    context = request.context
    key = f"{model_key(context.resource.model)}__id"
    session = request.dbsession
    result = []
    for other in request.registry.get("migasfree.resources", []):
        spec = other.filters.get(key)
        if spec is None or "exact" not in spec.lookups or "list" not in other.operations:
            continue
        if not request.has_permission(other.permission("view"), context):
            continue
        related = CollectionContext(other, request)
        query = apply_filters(
            related.scoped_query(), {key: str(context.obj.id)}, other.filters, request
        )
        result.append(
            {
                "api": {"model": other.path, "query": {key: context.obj.id}},
                "text": other.path,
                "count": count_rows(session, query),
                "actions": [],
            }
        )
    return result


def flush_or_conflict(request) -> None:
    """Flush now so that a constraint violation becomes a 409 answer, not a 500."""
    try:
        request.dbsession.flush()
    except IntegrityError as error:
        request.dbsession.rollback()
        raise conflict(f"The change conflicts with existing data: {error.orig}") from None


def create_view(request):
    resource = request.context.resource
    data = validate(resource.write_schema(request), json_body(request))
    obj = resource.create(request, data)
    flush_or_conflict(request)
    request.dbsession.refresh(obj)
    request.response.status_code = 201
    return resource.serialize(obj, request)


def retrieve_view(request):
    context = request.context
    return context.resource.serialize(context.obj, request)


def _update(request, is_partial: bool):
    context = request.context
    resource = context.resource
    schema = resource.write_schema(request, context.obj)
    body = json_body(request)
    data = validate(partial(schema, body.keys()) if is_partial else schema, body)
    resource.update(request, context.obj, data)
    flush_or_conflict(request)
    request.dbsession.refresh(context.obj)
    return resource.serialize(context.obj, request)


def update_view(request):
    return _update(request, is_partial=False)


def partial_update_view(request):
    return _update(request, is_partial=True)


def destroy_view(request):
    context = request.context
    context.resource.delete(request, context.obj)
    flush_or_conflict(request)
    return Response(status=204)


def _action_view(func, resource):
    def view(request):
        return func(resource, request, request.context)

    return view


def pruned(view):
    """Run ``view`` and drop what the caller may not see from nested parts of its answer."""

    def wrapper(request):
        result = view(request)
        prune = request.registry.get(PRUNE_HOOK)
        return prune(result, request) if prune is not None else result

    return wrapper


def resource_actions(resource_cls) -> Iterable[tuple[ActionSpec, Callable]]:
    for name in dir(resource_cls):
        func = getattr(resource_cls, name)
        spec = getattr(func, "action_spec", None)
        if spec is not None:
            yield spec, func


def register_resource(config, resource_cls: type[Resource], prefix: str = API_PREFIX) -> None:
    """Add the Cornice services of ``resource_cls`` (see the module docstring)."""
    resource = resource_cls()
    if resource.scoping is None:
        raise ConfigurationError(
            f"admin resource {resource_cls.__name__} ({resource.path}) declares no scoping: "
            "set Resource.scoping to a rule of migasfree_pyramid.scoping"
        )
    base = prefix + resource.path.strip("/") + "/"
    name = resource.path.strip("/").replace("/", ".")
    ops = resource.operations

    def collection_factory(request):
        return CollectionContext(resource, request)

    def service(suffix: str, path: str, item: bool) -> Service:
        kwargs = {"factory": collection_factory}
        if item:
            kwargs["traverse"] = "/{id}"
        return Service(name=f"{name}.{suffix}", path=path, renderer="json", **kwargs)

    collection = service("collection", base, item=False)
    if "list" in ops:
        collection.add_view("GET", pruned(list_view), permission=resource.permission("view"))
    if "create" in ops:
        collection.add_view("POST", pruned(create_view), permission=resource.permission("add"))
    if "list" in ops:
        filtering = service("filter", base + "filter/", item=False)
        filtering.add_view("POST", pruned(filter_view), permission=resource.permission("view"))
        services = [filtering]
        if resource.exportable:
            export = service("export", base + "export/", item=False)
            for method in ("GET", "POST"):
                export.add_view(method, export_view, permission=resource.permission("view"))
            services.append(export)
    else:
        services = []

    detail = service("item", base + r"{id:\d+}/", item=True)
    method_ops = (
        ("GET", "retrieve", retrieve_view, "view"),
        ("PUT", "update", update_view, "change"),
        ("PATCH", "partial_update", partial_update_view, "change"),
        ("DELETE", "destroy", destroy_view, "delete"),
    )
    for method, op, view, perm_action in method_ops:
        if op in ops:
            detail.add_view(method, pruned(view), permission=resource.permission(perm_action))

    if "retrieve" in ops:
        # The two read-only helpers every viewset of the original had (spec D.2).
        for helper, view in (("badge", badge_view), ("relations", relations_view)):
            extra = service(f"action.{helper}", base + r"{id:\d+}/" + helper + "/", item=True)
            extra.add_view("GET", pruned(view), permission=resource.permission("view"))
            services.append(extra)

    for spec, func in resource_actions(resource_cls):
        path = base + (r"{id:\d+}/" if spec.detail else "") + spec.name + "/"
        extra = service(f"action.{spec.name}", path, item=spec.detail)
        for method in spec.methods:
            extra.add_view(
                method,
                _action_view(func, resource),
                permission=resource.permission(spec.permission),
            )
        services.append(extra)

    # Actions are registered first so that a fixed segment ("kind/") wins over "{id}/".
    for svc in [*services, collection, detail]:
        if svc.defined_methods:
            config.add_cornice_service(svc)
    config.registry.setdefault("migasfree.resources", []).append(resource)
