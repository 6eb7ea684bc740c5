"""Resolving ids posted in a body to rows the caller may see (FK and many-to-many fields).

An id outside the caller's view is reported exactly like an id that does not exist.
"""

from __future__ import annotations

from sqlalchemy import select

from .errors import validation_error
from .resource import SCOPE_HOOK


def _scoped(request, model, query):
    for resource in request.registry.get("migasfree.resources", []):
        if resource.model is model:
            hook = request.registry.get(SCOPE_HOOK)
            if hook is None:
                return resource.scope(request, query)
            return hook(request, resource, query)
    return query


def invalid_pk(field: str, pk) -> Exception:
    return validation_error({field: f'Invalid pk "{pk}" - object does not exist.'})


def load_rows(request, model, ids, field: str) -> list:
    """Rows of ``model`` for ``ids``, in order; a 400 naming ``field`` if any is missing."""
    wanted = list(dict.fromkeys(ids or []))
    if not wanted:
        return []
    query = _scoped(request, model, select(model).where(model.id.in_(wanted)))
    found = {row.id: row for row in request.dbsession.scalars(query).unique()}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise invalid_pk(field, missing[0])
    return [found[pk] for pk in wanted]


def load_row(request, model, pk, field: str):
    """The row of ``model`` with id ``pk`` (None stays None); a 400 naming ``field`` if missing."""
    if pk is None:
        return None
    return load_rows(request, model, [pk], field)[0]


def ensure_unique(request, model, field: str, conditions: dict, exclude_id=None, message=None):
    """400 when another row already has these values (a clear message before the constraint)."""
    query = select(model.id).filter_by(**conditions)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if request.dbsession.scalars(query.limit(1)).first() is not None:
        noun = model.__name__.lower()
        raise validation_error({field: message or f"{noun} with this {field} already exists."})
