"""The columns of a collection, inferred from documents: each field's kind, merged over the
documents sampled and what the lake's earlier batches recorded.

The rules (docs/connectors/mongo.md):
- a field missing from a document, or null, is NULL: it never decides a type;
- int32 and int64 widen to int64; integers and doubles widen to double unless an integer
  seen is beyond 2**53 (no double holds it exactly: JSON text then); integers and Decimal128
  widen to decimal;
- documents merge field by field into a struct, arrays element by element into a list;
- any other mix of types (a string here, a number there; a document here, an array there) makes
  the field JSON text: each value as its MongoDB relaxed Extended JSON, so no value changes;
- a field only ever null, an empty document or an array only ever empty is JSON text too (no
  type is known for it yet, and JSON text holds whatever comes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pyarrow as pa
from bson import Binary, DatetimeMS, Decimal128, Int64, ObjectId

from sluice.connectors.declared import declared_by, declaring

SYSTEM = "mongo"
# Arrow decimal128 holds 38 digits; Decimal128 holds 34 significant ones.
MAX_DIGITS = 38
INT64_DIGITS = 19
INT32_DIGITS = 10
# Every integer up to 2**53 is a double exactly; beyond, doubles skip some.
EXACT_IN_DOUBLE = 2**53

SCALARS = {
    "bool": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "objectId": pa.string(),
    "uuid": pa.string(),
    "date": pa.timestamp("ms", tz="UTC"),
    "binary": pa.binary(),
    "json": pa.string(),
}
_NUMBERS = {"int32", "int64", "double", "decimal"}


@dataclass(frozen=True)
class Kind:
    """What one field held: a tag (a BSON type, or `json`), and for documents their fields,
    for arrays their elements' kind, for decimals the digits before and after the point."""

    tag: str
    fields: dict[str, Kind] = field(default_factory=dict)
    item: Kind | None = None
    whole: int = 0  # decimal: digits before the point
    scale: int = 0  # decimal: digits after it
    big: bool = False  # int64: some value is beyond 2**53, where doubles skip integers


NULL = Kind("null")
JSON = Kind("json")


def kind_of(value: Any) -> Kind:
    """The kind of one decoded BSON value (pymongo's types, dates as DatetimeMS)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return Kind("bool")
    if isinstance(value, Int64):
        return Kind("int64", big=abs(value) > EXACT_IN_DOUBLE)
    if isinstance(value, int):
        return Kind("int32")
    if isinstance(value, float):
        return Kind("double")
    if type(value) is str:  # not bson.Code, a str subclass: that one is JSON text
        return Kind("string")
    if isinstance(value, ObjectId):
        return Kind("objectId")
    if isinstance(value, DatetimeMS):
        return Kind("date")
    if isinstance(value, Decimal128):
        return _decimal_kind(value.to_decimal())
    if isinstance(value, bytes) and not isinstance(value, Binary):
        return Kind("binary")
    if isinstance(value, Binary) and value.subtype == 4 and len(value) == 16:
        return Kind("uuid")
    if isinstance(value, dict):
        fields: dict[str, Kind] = {}
        for name, inner in value.items():
            fields[name] = kind_of(inner)
        return Kind("object", fields=fields)
    if isinstance(value, list):
        item = NULL
        for element in value:
            item = merge(item, kind_of(element))
        return Kind("array", item=item)
    # Regular expressions, code, internal timestamps, Min/MaxKey, other binary subtypes:
    # values no column type holds, kept whole as their Extended JSON.
    return JSON


def _decimal_kind(number: Decimal) -> Kind:
    if not number.is_finite():
        return JSON  # NaN and infinities: no SQL decimal holds them
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    whole = max(0, len(digits) + exponent)
    return Kind("decimal", whole=whole, scale=scale)


def merge(a: Kind, b: Kind) -> Kind:
    """The kind holding every value of both (the rules in this module's docstring)."""
    if a.tag == "null":
        return b
    if b.tag == "null":
        return a
    if a.tag == "json" or b.tag == "json":
        return JSON
    if a.tag == b.tag:
        if a.tag == "object":
            fields = dict(a.fields)
            for name, kind in b.fields.items():
                fields[name] = merge(fields[name], kind) if name in fields else kind
            return Kind("object", fields=fields)
        if a.tag == "array":
            return Kind("array", item=merge(a.item or NULL, b.item or NULL))
        if a.tag == "decimal":
            return _decimal(max(a.whole, b.whole), max(a.scale, b.scale))
        return replace(a, big=a.big or b.big)
    if {a.tag, b.tag} <= _NUMBERS:
        tags = {a.tag, b.tag}
        if "decimal" in tags and "double" in tags:
            return JSON  # a double's binary fraction is not a decimal one
        if "decimal" in tags:
            number, integer = (a, b) if a.tag == "decimal" else (b, a)
            digits = INT64_DIGITS if integer.tag == "int64" else INT32_DIGITS
            return _decimal(max(number.whole, digits), number.scale)
        big = a.big or b.big
        if "double" in tags:
            return JSON if big else Kind("double")
        return Kind("int64", big=big)
    return JSON


def _decimal(whole: int, scale: int) -> Kind:
    if whole + scale > MAX_DIGITS:
        return JSON
    return Kind("decimal", whole=whole, scale=scale)


def settled(kind: Kind) -> Kind:
    """`kind` with nothing left unknown: a field only ever null, an empty document or an array
    of nothing becomes JSON text (any value fits there later)."""
    if kind.tag == "null":
        return JSON
    if kind.tag == "object":
        if not kind.fields:
            return JSON
        # Sorted: the sample's order is random, and a struct's field order is part of its type.
        return replace(kind, fields={n: settled(kind.fields[n]) for n in sorted(kind.fields)})
    if kind.tag == "array":
        item = kind.item or NULL
        return JSON if item.tag == "null" else replace(kind, item=settled(item))
    return kind


def arrow_type(kind: Kind, nested_as_json: bool) -> pa.DataType:
    if kind.tag == "object" and not nested_as_json:
        return pa.struct([arrow_field(n, k, False) for n, k in kind.fields.items()])
    if kind.tag == "array" and not nested_as_json:
        assert kind.item is not None
        return pa.list_(arrow_field("item", kind.item, False))
    if kind.tag in ("object", "array"):
        return pa.string()
    if kind.tag == "decimal":
        return pa.decimal128(max(1, kind.whole + kind.scale), kind.scale)
    return SCALARS[kind.tag]


def declared(kind: Kind, nested_as_json: bool) -> str:
    """The kind as the lake records it: the BSON type, `json` for JSON text."""
    if kind.tag in ("object", "array") and nested_as_json:
        return "json"
    if kind.tag == "decimal":
        return f"decimal({kind.whole + kind.scale},{kind.scale})"
    return kind.tag


def arrow_field(name: str, kind: Kind, nested_as_json: bool) -> pa.Field:
    return pa.field(
        name,
        arrow_type(kind, nested_as_json),
        metadata=declaring(SYSTEM, declared(kind, nested_as_json)),
    )


def recorded_kind(column: pa.Field) -> Kind:
    """The kind a lake column was written as (its declared type, else its Arrow type)."""
    tag = declared_by(column, SYSTEM)
    kind = column.type
    if tag == "json":
        return JSON
    if pa.types.is_struct(kind):
        return Kind("object", fields={f.name: recorded_kind(f) for f in kind})
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return Kind("array", item=recorded_kind(kind.value_field))
    if pa.types.is_decimal(kind):
        return Kind("decimal", whole=kind.precision - kind.scale, scale=kind.scale)
    if tag in SCALARS:
        return Kind(tag)
    for name, arrow in SCALARS.items():
        if arrow == kind and name not in ("objectId", "uuid", "json"):
            return Kind(name)
    return JSON


class ShapeConflict(Exception):
    """A field whose values the lake's earlier batches recorded with another kind than the
    documents now hold, where no column holds both without changing what earlier rows mean."""

    def __init__(self, path: str, before: Kind, now: Kind) -> None:
        super().__init__(path)
        self.path, self.before, self.now = path, before, now


def absorb(recorded: Kind, sampled: Kind, path: str) -> Kind:
    """`sampled` widened to hold what the lake recorded; a field recorded with a type that
    turned into JSON text is a conflict (its earlier values were not written as JSON)."""
    if recorded.tag == "json":
        return JSON
    if sampled.tag == "null":
        return recorded
    if recorded.tag == "object" and sampled.tag == "object":
        fields = dict(recorded.fields)
        for name, kind in sampled.fields.items():
            before = fields.get(name)
            fields[name] = absorb(before, kind, f"{path}.{name}") if before else kind
        return Kind("object", fields=fields)
    if recorded.tag == "array" and sampled.tag == "array":
        item = absorb(recorded.item or JSON, sampled.item or NULL, f"{path}[]")
        return Kind("array", item=item)
    widened = merge(recorded, sampled)
    if widened.tag == "json":
        raise ShapeConflict(path, recorded, sampled)
    return widened
