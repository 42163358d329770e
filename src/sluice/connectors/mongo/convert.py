"""Documents into an Arrow batch of the inferred columns, every value exact or refused.

A value the column does not hold as it is (a field the sample never saw, a type its rules did
not widen to, a decimal with more digits) is a `Misfit`, never a NULL or a rounding: the read
fails naming the field and the document. Each column's conversion is built once per shape
(`converters`), so a document costs one call per field, not a walk of the rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Context, Decimal, localcontext
from typing import Any

import pyarrow as pa
from bson import Binary, DatetimeMS, Decimal128, Int64, ObjectId, json_util

from sluice.connectors.mongo.shape import EXACT_IN_DOUBLE, MAX_DIGITS, Kind, kind_of

Convert = Callable[[Any], Any]
UNSAMPLED = "a field none of the sampled documents had"


class Misfit(Exception):
    """A value its column cannot hold exactly; `path` is the field (a.b[] inside arrays)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem
        self.document_id: Any = None


def relaxed_json(value: Any) -> str:
    return str(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))


def converters(kinds: dict[str, Kind], nested_as_json: bool) -> dict[str, Convert]:
    return {name: converter(kind, nested_as_json, name) for name, kind in kinds.items()}


def batch_of(
    documents: list[dict[str, Any]],
    convert: dict[str, Convert],
    schema: pa.Schema,
) -> pa.RecordBatch:
    """One batch; a Misfit raised carries the offending document's _id in `document_id`."""
    names = convert.keys()
    arrays = []
    for document in documents:
        if not names >= document.keys():
            extra = next(n for n in document if n not in names)
            misfit = Misfit(extra, UNSAMPLED)
            misfit.document_id = document.get("_id")
            raise misfit
    for field in schema:
        change = convert[field.name]
        name = field.name
        try:
            values = [None if (v := d.get(name)) is None else change(v) for d in documents]
        except Misfit as misfit:
            misfit.document_id = _culprit(documents, name, change)
            raise
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _culprit(documents: list[dict[str, Any]], name: str, change: Convert) -> Any:
    for document in documents:
        value = document.get(name)
        try:
            if value is not None:
                change(value)
        except Misfit:
            return document.get("_id")
    return None


def converter(kind: Kind, as_json: bool, path: str) -> Convert:
    """The function taking one non-null value of the field at `path` to its column's value."""
    tag = kind.tag
    if tag == "json" or (as_json and tag in ("object", "array")):
        expected = {"object": dict, "array": list}.get(tag)

        def text(value: Any) -> str:
            if expected is not None and not isinstance(value, expected):
                raise _misfit(path, value, kind)
            return relaxed_json(value)

        return text
    if tag == "object":
        return _struct(kind, path)
    if tag == "array":
        assert kind.item is not None
        item = converter(kind.item, False, f"{path}[]")

        def elements(value: Any) -> list[Any]:
            if type(value) is not list:
                raise _misfit(path, value, kind)
            return [None if e is None else item(e) for e in value]

        return elements
    if tag == "decimal":
        return _decimal(kind, path)
    if tag == "double":
        return _double(kind, path)
    if tag == "uuid":
        return _uuid(kind, path)
    exact = _SCALARS[tag]

    def scalar(value: Any) -> Any:
        change = exact.get(type(value))
        if change is None:
            raise _misfit(path, value, kind)
        return change(value)

    return scalar


def _struct(kind: Kind, path: str) -> Convert:
    fields = {n: converter(k, False, f"{path}.{n}") for n, k in kind.fields.items()}
    names = fields.keys()

    def struct(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _misfit(path, value, kind)
        if not names >= value.keys():
            extra = next(n for n in value if n not in names)
            raise Misfit(f"{path}.{extra}", UNSAMPLED)
        return {n: None if (v := value.get(n)) is None else c(v) for n, c in fields.items()}

    return struct


def _double(kind: Kind, path: str) -> Convert:
    def double(value: Any) -> float:
        if type(value) is float:
            return value
        if type(value) in (int, Int64):
            if abs(value) > EXACT_IN_DOUBLE:
                raise Misfit(
                    path,
                    f"the integer {value} in a column of doubles (no double holds it exactly)",
                )
            return float(value)
        raise _misfit(path, value, kind)

    return double


def _decimal(kind: Kind, path: str) -> Convert:
    quantum = Decimal(1).scaleb(-kind.scale)
    digits = kind.whole + kind.scale

    def decimal(value: Any) -> Decimal:
        if type(value) is Decimal128:
            number = value.to_decimal()
        elif type(value) in (int, Int64):
            number = Decimal(int(value))
        else:
            raise _misfit(path, value, kind)
        if number.is_finite() and number.adjusted() < digits:
            # Python's default context holds 28 digits; these columns hold up to 38.
            with localcontext(Context(prec=2 * MAX_DIGITS)):
                exact = number.quantize(quantum)
            if exact == number and len(exact.as_tuple().digits) <= digits:
                return exact
        raise Misfit(
            path,
            f"the decimal {number} in a column of decimal({digits},{kind.scale}) (more digits "
            "than the sampled documents had)",
        )

    return decimal


def _uuid(kind: Kind, path: str) -> Convert:
    def canonical(value: Any) -> str:
        if type(value) is not Binary or value.subtype != 4 or len(value) != 16:
            raise _misfit(path, value, kind)
        return str(uuid.UUID(bytes=bytes(value)))

    return canonical


# Per tag, the Python types (exactly: bool is no int here, Int64 no int32) a value may have.
_SCALARS: dict[str, dict[type, Convert]] = {
    "string": {str: lambda v: v},
    "bool": {bool: lambda v: v},
    "int32": {int: lambda v: v},
    "int64": {int: lambda v: v, Int64: int},
    "date": {DatetimeMS: int},
    "objectId": {ObjectId: str},
    "binary": {bytes: lambda v: v},
}


def _misfit(path: str, value: Any, kind: Kind) -> Misfit:
    return Misfit(path, f"a {kind_of(value).tag} value in a column of {kind.tag} values")
