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
    bound = {"$gte": _bound(request.lower_bound, key, shape)}
    if fallback is None:
        return {key: bound}
    fallback_bound = {"$gte": _bound(request.lower_bound, fallback, shape)}
    # MongoDB's `null` matches a field that is missing as well as one that is null.
    return {"$or": [{key: bound}, {key: None, fallback: fallback_bound}]}


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
        return ObjectId(str(value))
    if tag == "date" and isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if tag == "decimal":
        return Decimal128(str(value))
    return value
