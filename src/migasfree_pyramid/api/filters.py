"""Query-string filters, search and ordering, with the original's parameter names.

A filter parameter is ``<field>`` (exact) or ``<field>__<lookup>``; ``__in`` takes comma-separated
values and ``__isnull`` true/false, as django-filter does. A known parameter with a bad value is a
400; unknown parameters are ignored (clients send extra ones such as ``format``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select
from sqlalchemy.sql import Select

from .errors import validation_error

TRUE_WORDS = {"true", "1", "yes", "on", "t", "y"}
FALSE_WORDS = {"false", "0", "no", "off", "f", "n"}
ALL_LOOKUPS = (
    "exact",
    "iexact",
    "in",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "isnull",
    "gt",
    "gte",
    "lt",
    "lte",
)


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("Enter true or false.")


INT_LIMIT = 2**31
BIGINT_LIMIT = 2**63


def _bounded_int(limit: int):
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError("Enter a whole number.") from None
        # Out of the column's range the database errors out; no row can match anyway.
        if not -limit <= value < limit:
            raise ValueError(f"Ensure this value is between {-limit} and {limit - 1}.")
        return value

    return parse


parse_int = _bounded_int(INT_LIMIT)


def parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("Enter a number.") from None


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ValueError("Enter a valid date (YYYY-MM-DD).") from None


def parse_datetime(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Enter a valid date/time (ISO 8601).") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


PARSERS: dict[str, Callable[[str], Any]] = {
    "int": parse_int,
    "bigint": _bounded_int(BIGINT_LIMIT),
    "str": lambda text: text,
    "bool": parse_bool,
    "float": parse_float,
    "date": parse_date,
    "datetime": parse_datetime,
}


def like_pattern(value: str, prefix: bool = True) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%" if prefix else f"{escaped}%"


def compare(column, lookup: str, value) -> ColumnElement:
    """Apply one django-filter lookup to a column expression."""
    if lookup == "exact":
        return column == value
    if lookup == "iexact":
        return column.ilike(like_pattern(value, prefix=False).rstrip("%"), escape="\\")
    if lookup == "in":
        return column.in_(value) if value else false()
    if lookup == "contains":
        return column.like(like_pattern(value), escape="\\")
    if lookup == "icontains":
        return column.ilike(like_pattern(value), escape="\\")
    if lookup == "startswith":
        return column.like(like_pattern(value, prefix=False), escape="\\")
    if lookup == "istartswith":
        return column.ilike(like_pattern(value, prefix=False), escape="\\")
    if lookup == "isnull":
        return column.is_(None) if value else column.is_not(None)
    if lookup == "gt":
        return column > value
    if lookup == "gte":
        return column >= value
    if lookup == "lt":
        return column < value
    if lookup == "lte":
        return column <= value
    raise ValueError(lookup)


@dataclass(frozen=True)
class Filter:
    """A filterable field.

    ``column`` is a column of the listed model; or ``clause(lookup, value)`` builds the condition
    itself (reverse relations, many-to-many, computed fields). ``type`` parses the raw values.
    """

    column: Any = None
    type: str = "str"
    lookups: tuple[str, ...] = ("exact",)
    clause: Callable[..., ColumnElement] | None = None
    # Clauses that depend on the caller (``user=me``) or need the session get the request too.
    with_request: bool = False

    def condition(self, lookup: str, value, request=None) -> ColumnElement:
        if self.clause is not None:
            if self.with_request:
                return self.clause(lookup, value, request)
            return self.clause(lookup, value)
        return compare(self.column, lookup, value)


def related(
    link_key, target, *, owner_id=None, join: Callable[[Select], Select] | None = None
) -> Callable[[str, Any], ColumnElement]:
    """A condition on rows of another table that point at the listed row.

    ``link_key`` is the column of the other (or association) table holding the listed row's id,
    ``target`` the column compared. ``__isnull=true`` means "no such row exists".
    """

    def clause(lookup: str, value) -> ColumnElement:
        owner = owner_id
        if lookup == "isnull":
            query = select(link_key).where(link_key == owner)
            query = join(query) if join else query
            return not_(exists(query)) if value else exists(query)
        query = select(link_key).where(link_key == owner, compare(target, lookup, value))
        query = join(query) if join else query
        return exists(query)

    return clause


def parse_value(name: str, spec: Filter, lookup: str, raw: str):
    parse = PARSERS[spec.type]
    try:
        if lookup == "isnull":
            return parse_bool(raw)
        if lookup == "in":
            return [parse(part) for part in raw.split(",") if part.strip() != ""]
        return parse(raw)
    except ValueError as error:
        raise validation_error({name: str(error)}, "querystring") from None


def apply_filters(query: Select, params, filters: dict[str, Filter], request=None) -> Select:
    conditions = []
    for name, raw in params.items():
        # Field names contain "__" themselves ("project__id"), so match whole names first.
        field, lookup = _split_known(name, filters)
        if field is None or lookup not in filters[field].lookups:
            continue
        spec = filters[field]
        if raw == "" and lookup not in {"exact", "iexact"}:
            continue
        conditions.append(spec.condition(lookup, parse_value(name, spec, lookup, raw), request))
    return query.where(and_(*conditions)) if conditions else query


def _split_known(name: str, filters: dict[str, Filter]) -> tuple[str | None, str]:
    if name in filters:
        return name, "exact"
    head, _, lookup = name.rpartition("__")
    if head in filters and lookup in ALL_LOOKUPS:
        return head, lookup
    return None, ""


def apply_search(query: Select, text: str | None, fields: Iterable) -> Select:
    """DRF SearchFilter: every word must match at least one field (icontains)."""
    fields = list(fields)
    if not text or not fields:
        return query
    for word in text.replace(",", " ").split():
        query = query.where(or_(*(f.ilike(like_pattern(word), escape="\\") for f in fields)))
    return query


def apply_ordering(
    query: Select, text: str | None, allowed: dict[str, Any], default: Iterable[str], tiebreak
) -> Select:
    """``?ordering=a,-b`` over the declared fields; the primary key always breaks ties last."""
    names = [part.strip() for part in text.split(",") if part.strip()] if text else []
    unknown = [name for name in names if name.lstrip("-") not in allowed]
    if unknown:
        raise validation_error(
            {
                "ordering": f"Unknown ordering field(s): {', '.join(unknown)}. "
                f"Allowed: {', '.join(sorted(allowed))}."
            },
            "querystring",
        )
    names = names or list(default)
    clauses = []
    for name in names:
        column = allowed[name.lstrip("-")]
        clauses.append(column.desc() if name.startswith("-") else column.asc())
    clauses.append(tiebreak.asc())
    return query.order_by(*clauses)
