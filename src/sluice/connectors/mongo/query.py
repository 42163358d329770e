"""The filter of an incremental read: `key >= bound`, loose (the engine filters exactly after),
with the NULL-key fallback field standing in where the key is missing or null."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sluice.connectors.base import ReadRequest
from sluice.connectors.mongo.infer import Shape
from sluice.core.errors import TerminalError


def key_filter(request: ReadRequest, shape: Shape) -> dict[str, Any]:
    key, fallback = request.incremental_key, request.fallback_key
    if key is None or request.lower_bound is None:
        return {}
    # `$gte` matches only values of the bound's BSON type: a key of another type (which the
    # sample missed) is read too, so the conversion refuses it by name instead of the read
    # skipping it.
    clauses: list[dict[str, Any]] = [
        {key: {"$gte": _bound(request.lower_bound, key, shape)}},
        {key: _off_type(key, shape)},
    ]
    if fallback is not None:
        # MongoDB's `null` matches a field that is missing as well as one that is null.
        clauses += [
            {key: None, fallback: {"$gte": _bound(request.lower_bound, fallback, shape)}},
            {key: None, fallback: _off_type(fallback, shape)},
        ]
    return {"$or": clauses}


_BSON_TYPES = {"objectId": "objectId", "date": "date", "string": "string"}


def _off_type(field: str, shape: Shape) -> dict[str, Any]:
    """Matches a present, non-null value of another BSON type than the field's column."""
    tag = shape.kinds[field].tag
    return {"$exists": True, "$not": {"$type": [_BSON_TYPES.get(tag, "number"), "null"]}}


def _bound(value: Any, field: str, shape: Shape) -> Any:
    """The bound as the field's BSON type: comparisons only match values of the same type."""
    from bson import Decimal128, ObjectId

    kind = shape.kinds.get(field)
    tag = kind.tag if kind is not None else None
    if tag not in ("objectId", "date", "int32", "int64", "double", "decimal", "string"):
        raise TerminalError(
            f"field {field!r} cannot be an incremental key: its values are "
            f"{'JSON text (their types vary)' if tag == 'json' else tag or 'never present'}; "
            "use _id, a date field such as updatedAt, or a number field"
        )
    if tag == "objectId":
        from bson.errors import InvalidId

        try:
            return ObjectId(str(value))
        except InvalidId:
            raise TerminalError(
                f"field {field!r} holds ObjectIds but the watermark {value!r} is no ObjectId: "
                "key and --null-key-fallback must be fields of the same type"
            ) from None
    if tag == "date" and isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if tag == "decimal":
        return Decimal128(str(value))
    return value
