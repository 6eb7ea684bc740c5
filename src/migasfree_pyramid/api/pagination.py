"""Page-number pagination with DRF's envelope: ``{count, next, previous, results}``.

``count`` is exact, except for the unfiltered lists of the event logs that grow without bound
(package history, synchronizations...) when PostgreSQL's planner expects more rows than
``migasfree.exact_count_limit``: counting 20 million rows takes seconds whatever the indexes,
and the page itself milliseconds. Then ``count`` is the planner's estimate (kept by ANALYZE),
the response says so in ``X-Count-Estimated: true``, and the last page is found by reading it.
"""

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


ESTIMATED_HEADER = "X-Count-Estimated"


def estimated_rows(session, query: Select) -> int | None:
    """The planner's estimate of the rows ``query`` returns (PostgreSQL only, else None)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    compiled = query.order_by(None).compile(
        dialect=bind.dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = (
        session.connection()
        .exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
        .scalar_one()
    )
    return int(plan[0]["Plan"]["Plan Rows"])


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


def paginate(request, query: Select, load, may_estimate: bool = False) -> dict:
    """Run ``query`` for the requested page: one COUNT and one SELECT (plus eager loads).

    ``load(rows)`` turns the page's ORM rows into JSON-ready dicts. ``may_estimate``: the
    caller's list is one whose count may be estimated (see the module's docstring).
    """
    page, size = page_params(request)
    session = request.dbsession
    limit = request.registry.settings.get("migasfree.exact_count_limit", 0)
    total = estimated_rows(session, query) if may_estimate and limit else None
    estimated = total is not None and total > limit
    if not estimated:
        total = count_rows(session, query)
        last = max(1, -(-total // size))
        if page > last:
            raise APIError(404, [error_entry("Invalid page.", "page", "querystring")])
    rows = session.scalars(query.limit(size).offset((page - 1) * size)).unique().all()
    if estimated:
        if not rows and page > 1:
            raise APIError(404, [error_entry("Invalid page.", "page", "querystring")])
        request.response.headers[ESTIMATED_HEADER] = "true"
        last = page + 1 if len(rows) == size else page
    return {
        "count": total,
        "next": page_url(request, page + 1 if page < last else None),
        "previous": page_url(request, page - 1 if page > 1 else None),
        "results": load(rows),
    }
