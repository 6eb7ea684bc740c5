"""Page-number pagination with DRF's envelope: ``{count, next, previous, results}``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.sql import Select

from .errors import APIError, error_entry, validation_error


def page_params(request) -> tuple[int, int]:
    settings = request.registry.settings
    default = settings.get("migasfree.page_size", 100)
    maximum = settings.get("migasfree.max_page_size", 10000)
    params = request.GET
    try:
        page = int(params.get("page", "1") or "1")
    except ValueError:
        raise validation_error({"page": "Invalid page."}, "querystring") from None
    try:
        size = int(params.get("page_size", default) or default)
    except ValueError:
        raise validation_error({"page_size": "Enter a whole number."}, "querystring") from None
    if page < 1:
        raise APIError(404, [error_entry("Invalid page.", "page", "querystring")])
    return page, max(1, min(size, maximum))


def count_rows(session, query: Select) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return session.execute(counted).scalar_one()


def page_url(request, page: int | None) -> str | None:
    if page is None:
        return None
    params = [(k, v) for k, v in request.GET.items() if k != "page"]
    if page > 1:
        params.append(("page", str(page)))
    return request.current_route_url(_query=params) if params else request.path_url


def paginate(request, query: Select, load) -> dict:
    """Run ``query`` for the requested page: one COUNT and one SELECT (plus eager loads).

    ``load(rows)`` turns the page's ORM rows into JSON-ready dicts.
    """
    page, size = page_params(request)
    session = request.dbsession
    total = count_rows(session, query)
    last = max(1, -(-total // size))
    if page > last:
        raise APIError(404, [error_entry("Invalid page.", "page", "querystring")])
    rows = session.scalars(query.limit(size).offset((page - 1) * size)).unique().all()
    return {
        "count": total,
        "next": page_url(request, page + 1 if page < last else None),
        "previous": page_url(request, page - 1 if page > 1 else None),
        "results": load(rows),
    }
