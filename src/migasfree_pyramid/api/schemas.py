"""colander helpers: reading the body, validating it, and the field types the API shares."""

from __future__ import annotations

import copy
import datetime as dt

import colander

from .errors import bad_request, validation_error


def json_body(request) -> dict:
    """The request body as a JSON object, or a 400 in the common error shape."""
    try:
        body = request.json_body
    except ValueError as error:
        raise bad_request(f"Invalid JSON: {error}") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid data. Expected a JSON object.")
    return body


def flatten_errors(error: colander.Invalid) -> dict[str, str]:
    messages = {}
    for path, message in error.asdict().items():
        # colander names list items "field.0"; keep the field name clients know.
        name = path.split(".")[0]
        messages.setdefault(name, message)
    return messages


def validate(schema: colander.SchemaNode, data: dict, location: str = "body") -> dict:
    try:
        return schema.deserialize(data)
    except colander.Invalid as error:
        raise validation_error(flatten_errors(error), location) from None


def partial(schema: colander.SchemaNode, present=None) -> colander.SchemaNode:
    """PATCH semantics: a copy of ``schema`` that validates only the fields sent.

    With ``present`` (the keys of the body), the other fields are removed and the sent ones keep
    their full rules, so ``{"name": ""}`` is still refused for a required name. Without it every
    field becomes optional (``colander.drop``), which cannot tell an empty value from an absent
    one: callers that have the body should pass its keys.
    """
    clone = copy.deepcopy(schema)
    if present is not None:
        keep = set(present)
        for child in list(clone.children):
            if child.name not in keep:
                clone.children.remove(child)
        return clone
    for child in clone.children:
        child.missing = colander.drop
    return clone


class LenientBoolean(colander.Boolean):
    """JSON true/false, and the strings and numbers form posts send."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if isinstance(cstruct, bool):
            return cstruct
        if isinstance(cstruct, int) and cstruct in (0, 1):
            return bool(cstruct)
        if isinstance(cstruct, str) and cstruct.lower() in {"true", "false", "1", "0"}:
            return cstruct.lower() in {"true", "1"}
        raise colander.Invalid(node, "Must be a valid boolean.")


class StrictInt(colander.Int):
    """An integer that refuses floats, booleans and numeric garbage.

    With ``nullable`` an explicit JSON null is the value None (clears a nullable foreign key);
    otherwise null counts as absent.
    """

    def __init__(self, nullable: bool = False):
        super().__init__()
        self.nullable = nullable

    def deserialize(self, node, cstruct):
        if cstruct is None and self.nullable:
            return None
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if isinstance(cstruct, bool) or (isinstance(cstruct, float) and not cstruct.is_integer()):
            raise colander.Invalid(node, "A valid integer is required.")
        if isinstance(cstruct, str) and not cstruct.strip().lstrip("-").isdigit():
            raise colander.Invalid(node, "A valid integer is required.")
        return int(cstruct)


class NullableString(colander.String):
    """A string where JSON null means "no value" (nullable text columns)."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if cstruct is None:
            return None
        if not isinstance(cstruct, str | int | float) or isinstance(cstruct, bool):
            raise colander.Invalid(node, "Not a valid string.")
        return super().deserialize(node, str(cstruct))


def Text(
    max_length: int | None = None,
    *,
    required=True,
    nullable=False,
    min_length=1,
    allow_empty=False,
    **kw,
):
    """A text field. ``required`` fields must be present and non-blank. ``allow_empty``: ""
    is a value (it clears the text) rather than an absent field."""
    validators = []
    if max_length:
        validators.append(colander.Length(max=max_length))
    if required and min_length:
        validators.append(colander.Length(min=min_length))
    string = NullableString if nullable else colander.String
    node_type = string(allow_empty=allow_empty)
    kw.setdefault("missing", colander.required if required else (None if nullable else ""))
    return colander.SchemaNode(
        node_type, validator=skip_none(colander.All(*validators)) if validators else None, **kw
    )


def OptionalText(max_length: int | None = None):
    """Nullable text that may be empty ("" is a value, null clears it), dropped when absent: a
    PUT without it keeps the stored value, as DRF does for fields that are not required."""
    return Text(max_length, required=False, nullable=True, allow_empty=True, missing=colander.drop)


def skip_none(validator):
    """Validators check values; an explicit null of a nullable field has nothing to check."""

    def check(node, value):
        if value is not None:
            validator(node, value)

    return check


def Integer(*, required=True, nullable=False, minimum=None, maximum=None, **kw):
    bounds = colander.Range(min=minimum, max=maximum) if minimum is not None or maximum else None

    def validator(node, value):
        # An explicit null (nullable fields) has no bounds to check.
        if bounds is not None and value is not None:
            bounds(node, value)

    kw.setdefault("missing", colander.required if required else None)
    return colander.SchemaNode(StrictInt(nullable=nullable), validator=validator, **kw)


def Float(*, required=False, **kw):
    kw.setdefault("missing", colander.required if required else None)
    return colander.SchemaNode(colander.Float(), **kw)


def Boolean(default=None, **kw):
    kw.setdefault("missing", colander.required if default is None else default)
    return colander.SchemaNode(LenientBoolean(), **kw)


def Date(*, required=False, **kw):
    kw.setdefault("missing", colander.required if required else None)
    return colander.SchemaNode(colander.Date(), **kw)


class ListOrNull(colander.Sequence):
    """A JSON array; an explicit null is the empty list (many-to-many fields, text lists)."""

    def deserialize(self, node, cstruct, accept_scalar=None):
        if cstruct is None:
            return []
        return super().deserialize(node, cstruct, accept_scalar)


def IdList(**kw):
    """A list of primary keys (many-to-many fields); null counts as empty."""
    kw.setdefault("missing", [])
    node = colander.SchemaNode(ListOrNull(accept_scalar=False), **kw)
    node.add(colander.SchemaNode(StrictInt(), name="id"))
    return node


def StringList(**kw):
    """A JSON array of strings, stored newline-joined (``packages_to_install`` and friends)."""
    kw.setdefault("missing", [])
    node = colander.SchemaNode(ListOrNull(accept_scalar=False), **kw)
    node.add(colander.SchemaNode(colander.String(), name="item"))
    return node


def Choice(choices, *, required=True, default=None, **kw):
    kw.setdefault("missing", colander.required if required else default)
    return colander.SchemaNode(
        colander.String(),
        validator=colander.OneOf(list(choices)),
        **kw,
    )


class Schema(colander.MappingSchema):
    """Base of write schemas: unknown keys are ignored, as DRF does."""

    def schema_type(self, **kw):
        return colander.Mapping(unknown="ignore")


def iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
