"""Salesforce field types as Arrow types, from an object's describe(), and values converted
exactly: numbers from their decimal text (never through a float), dates and times as
Salesforce writes them.

    describe type                         lake                       note
    id, reference                         string                     the 18-character id
    string, textarea, picklist, email,    string
      multipicklist, combobox, phone,
      url, encryptedstring
    boolean                               bool
    int, long                             int64
    double, currency, percent             decimal(precision, scale)  exact, as declared
    date                                  date32
    datetime                              timestamp[ms, UTC]         Salesforce keeps ms
    time                                  time64[us]                 Salesforce keeps ms
    address, location                     left out                   their parts are fields
    base64, anyType, complexvalue         left out, named in the     not queryable in bulk
                                          run's warnings
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.declared import declaring
from sluice.core.errors import TerminalError

SYSTEM = "salesforce"
_TEXT = frozenset({"id", "reference", "string", "textarea", "picklist", "multipicklist",
                   "combobox", "email", "phone", "url", "encryptedstring"})  # fmt: skip
_NUMBER = frozenset({"double", "currency", "percent"})
# Compound fields: their components are fields of their own, read instead.
_COMPOUND = frozenset({"address", "location"})


@dataclass(frozen=True)
class SfField:
    name: str
    kind: str  # describe's type
    arrow: pa.DataType
    declared: str

    def field(self) -> pa.Field:
        return pa.field(self.name, self.arrow, metadata=declaring(SYSTEM, self.declared))


def fields_of(describe: dict[str, Any]) -> tuple[list[SfField], list[str]]:
    """The object's readable fields, and the names of those left out (with why)."""
    kept: list[SfField] = []
    left: list[str] = []
    for raw in describe.get("fields", []):
        name, kind = str(raw["name"]), str(raw["type"])
        if kind in _COMPOUND:
            continue  # its components (BillingStreet, ...) are read
        arrow = _arrow(kind, raw)
        if arrow is None:
            left.append(f"{name} ({kind})")
            continue
        declared = kind
        if kind in _NUMBER:
            declared = f"{kind}({raw.get('precision')},{raw.get('scale')})"
        kept.append(SfField(name, kind, arrow, declared))
    return kept, left


def _arrow(kind: str, raw: dict[str, Any]) -> pa.DataType | None:
    if kind in _TEXT:
        return pa.string()
    if kind == "boolean":
        return pa.bool_()
    if kind in ("int", "long"):
        return pa.int64()
    if kind in _NUMBER:
        precision, scale = int(raw.get("precision") or 18), int(raw.get("scale") or 0)
        return pa.decimal128(max(precision, 1), scale)
    return {
        "date": pa.date32(),
        "datetime": pa.timestamp("ms", "UTC"),
        "time": pa.time64("us"),
    }.get(kind)


def rest_batch(records: list[dict[str, Any]], fields: list[SfField], obj: str) -> pa.RecordBatch:
    """REST query records (JSON, numbers already Decimals) as one batch."""
    arrays = []
    for f in fields:
        values = [record.get(f.name) for record in records]
        try:
            arrays.append(pa.array([_value(v, f) for v in values], type=f.arrow))
        except (ValueError, TypeError, pa.ArrowInvalid) as exc:
            raise _misfit(obj, f, exc) from None
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([f.field() for f in fields]))


def _value(value: Any, f: SfField) -> Any:
    if value is None:
        return None
    if f.kind in _NUMBER:
        return Decimal(value) if isinstance(value, int) else value
    if f.kind == "date":
        return date.fromisoformat(value)
    if f.kind == "datetime":
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    if f.kind == "time":
        return time.fromisoformat(str(value).rstrip("Z"))
    return value


def csv_batch(table: pa.Table, fields: list[SfField], obj: str) -> pa.RecordBatch:
    """A Bulk API 2.0 result page (read as text: every column a string, '' as NULL) as one
    batch of the fields' types."""
    arrays = []
    for f in fields:
        column = table.column(f.name).combine_chunks() if f.name in table.column_names else None
        if column is None:
            raise TerminalError(
                f"Salesforce object {obj}: the Bulk API result has no column {f.name!r}; "
                "nothing was written"
            )
        try:
            arrays.append(_cast(column, f))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise _misfit(obj, f, exc) from None
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([f.field() for f in fields]))


def _cast(column: pa.Array, f: SfField) -> pa.Array:
    if f.kind == "boolean":
        return pc.equal(column, "true")
    if f.kind == "datetime":
        return column.cast(pa.timestamp("ms", "UTC"))
    if f.kind == "time":
        values = [None if v is None else time.fromisoformat(v.rstrip("Z")) for v in
                  column.to_pylist()]  # fmt: skip
        return pa.array(values, type=f.arrow)
    return column.cast(f.arrow)


def _misfit(obj: str, f: SfField, exc: Exception) -> TerminalError:
    return TerminalError(
        f"field {f.name!r} of Salesforce object {obj} ({f.declared}) holds a value its "
        f"declared type does not ({exc}); nothing was written: leave the field out with a "
        "view-like object or report it to the org's admin"
    )
