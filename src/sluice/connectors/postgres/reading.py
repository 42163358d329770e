"""PostgreSQL columns as read: what each is selected as and the exact Arrow field it becomes;
the driver's batches conformed to it (numeric text to decimals, the server's infinities to the
lake's markers, values Arrow cannot hold refused naming the column)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.postgres.types import (
    DECIMAL128_MAX_PRECISION,
    PG_TYPE,
    UDT_JSON,
    declared_type_of,
    numeric_typmod,
    pg_type_of,
)
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError
from sluice.core.infinity import count_infinities
from sluice.core.infinity import marker as infinity_marker
from sluice.core.models import TableRef


# ---- reading ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceColumn:
    expression: str  # the SELECT list item
    field: pa.Field  # what sluice yields


def source_column(raw: pa.Field, quoted: str) -> SourceColumn:
    """How to select a column whose plain SELECT gave `raw`, and the Arrow field it becomes."""
    kind = raw.type
    if pg_type_of(raw) == "money":
        # ADBC gives money as int64 in the currency's minor unit; numeric keeps its meaning.
        return SourceColumn(f"{quoted}::numeric AS {quoted}", _numeric_field(raw))
    if isinstance(kind, pa.OpaqueType) and kind.type_name == "numeric":
        return SourceColumn(quoted, _numeric_field(raw))
    if pg_type_of(raw) == "_money":  # the driver's int64 minor units: the array's text
        return SourceColumn(f"{quoted}::text AS {quoted}", raw.with_type(pa.string()))
    if pg_type_of(raw) == "oid":
        # Unsigned 32-bit: the driver's int32 turns 4000000000 into -294967296.
        return SourceColumn(f"{quoted}::bigint AS {quoted}", raw.with_type(pa.int64()))
    if pg_type_of(raw) == "_oid":
        return SourceColumn(f"{quoted}::bigint[] AS {quoted}", raw.with_type(pa.list_(pa.int64())))
    if _needs_text(kind):
        return SourceColumn(f"{quoted}::text AS {quoted}", raw.with_type(pa.string()))
    return SourceColumn(quoted, raw)


def _numeric_field(raw: pa.Field) -> pa.Field:
    bounds = numeric_typmod(raw)
    if bounds is not None:
        precision, scale = bounds
        if 0 <= scale <= precision <= DECIMAL128_MAX_PRECISION:
            return raw.with_type(pa.decimal128(precision, scale))
    # Wider or unconstrained: decimal128 would lose digits, the text keeps all of them.
    metadata = {**(raw.metadata or {}), PG_TYPE: b"numeric"}
    return raw.with_type(pa.string()).with_metadata(metadata)


def _needs_text(kind: pa.DataType) -> bool:
    if isinstance(kind, pa.OpaqueType) or pa.types.is_interval(kind):
        return True
    return pa.types.is_list(kind) and _needs_text(kind.value_type)


def conform(raw: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch as ADBC gave it, in the planned schema."""
    arrays = []
    for column, field in zip(raw.columns, schema, strict=True):
        if column.type == field.type:
            arrays.append(column)
            continue
        values = column.storage if isinstance(column.type, pa.ExtensionType) else column
        try:
            arrays.append(values if values.type == field.type else values.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TerminalError(
                f"column {field.name!r} holds a value that {field.type} cannot hold exactly "
                f"(a numeric NaN or Infinity?): {exc}; cast the column in a view to read it"
            ) from exc
    arrays = [_carry_infinities(a, f) for a, f in zip(arrays, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# PostgreSQL's earliest date and timestamp (4713 BC, Julian day 0) since 1970. The driver
# shifts values from PostgreSQL's epoch (2000) to Unix's without checking for overflow: the
# server's infinity markers (the largest and smallest integers) wrap round to far below these,
# and so do timestamps after 294247 AD, which no Arrow microsecond timestamp can hold.
_EARLIEST_DAY = -2_440_588
_EARLIEST_MICROSECOND = _EARLIEST_DAY * 86_400_000_000
_EPOCH_SHIFT_DAYS = 10_957  # 1970-01-01 to 2000-01-01
_EPOCH_SHIFT_MICROSECONDS = _EPOCH_SHIFT_DAYS * 86_400_000_000


def _wrapped(value: int, bits: int) -> int:
    """`value` as the driver's unchecked integer addition leaves it."""
    half: int = 1 << (bits - 1)
    return (value + half) % (2 * half) - half


# What the driver hands over for the server's 'infinity' and '-infinity'.
_WRAPPED_INFINITIES = {
    64: (
        _wrapped(2**63 - 1 + _EPOCH_SHIFT_MICROSECONDS, 64),
        _wrapped(-(2**63) + _EPOCH_SHIFT_MICROSECONDS, 64),
    ),
    32: (
        _wrapped(2**31 - 1 + _EPOCH_SHIFT_DAYS, 32),
        _wrapped(-(2**31) + _EPOCH_SHIFT_DAYS, 32),
    ),
}


def _carry_infinities(array: pa.Array, field: pa.Field) -> pa.Array:
    """The column with the server's infinities as the lake's markers (sluice.core.infinity).

    A value beyond what Arrow holds fails, naming the column: it would arrive changed.
    """
    kind = field.type
    if pa.types.is_list(kind) and (
        pa.types.is_date32(kind.value_type) or pa.types.is_timestamp(kind.value_type)
    ):
        _refuse_in_arrays(array, field)
        return array
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        earliest, bits = _EARLIEST_MICROSECOND, 64
    elif pa.types.is_date32(kind):
        earliest, bits = _EARLIEST_DAY, 32
    else:
        return array
    ints = array.view(pa.int64() if bits == 64 else pa.int32())
    lowest = pc.min(ints)
    if not lowest.is_valid or lowest.as_py() >= earliest:
        return array
    positive, negative = (pc.equal(ints, wrapped) for wrapped in _WRAPPED_INFINITIES[bits])
    beyond = pc.and_(pc.less(ints, earliest), pc.invert(pc.or_(positive, negative)))
    if pc.any(beyond).as_py():
        declared = declared_type_of(field) or pg_type_of(field) or str(kind)
        raise TerminalError(
            f"column {field.name!r} ({declared}) holds a timestamp after 294247-01-10 AD, "
            "later than a microsecond timestamp since 1970 can hold; nothing was published and "
            "the watermark did not move: read the table through a view that casts the column "
            f"to text ({field.name}::text AS {field.name}) or leave those rows out"
        )
    top = infinity_marker(kind)
    assert top is not None
    markers = pc.if_else(positive, top, pc.if_else(negative, -top, ints))
    return markers.cast(ints.type).view(kind)


def _refuse_in_arrays(array: pa.Array, field: pa.Field) -> None:
    values = _carry_infinities(pc.list_flatten(array), field.with_type(field.type.value_type))
    if count_infinities(values):
        declared = declared_type_of(field) or pg_type_of(field) or str(field.type)
        raise TerminalError(
            f"column {field.name!r} ({declared}) holds 'infinity' or '-infinity' inside an "
            "array, which sluice cannot carry exactly; nothing was published and the watermark "
            f"did not move: read the table through a view that casts the column to text "
            f"({field.name}::text AS {field.name}), or leave those rows out"
        )


# Each column's declared type as format_type prints it (the driver's schema has no typmod),
# and an enum's name and labels.
# Read as their text too (a domain by its base type `b`): "char", whose binary form of '' is
# a NUL byte no text may hold, and int2vector, numbered from 0 (a list would renumber it).
# The definition of a domain or composite column (of an array's element for an array of one),
# which a PostgreSQL sink declares again (udts.py). A composite, and an array of either, is read
# as its text: PostgreSQL's own record and array text, which it reads back exactly.
DECLARED_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(el.typname, t.typname), "
    "CASE WHEN coalesce(el.typtype, t.typtype) = 'e' THEN (SELECT coalesce(json_agg("
    "e.enumlabel ORDER BY e.enumsortorder), '[]')::text FROM pg_enum e WHERE e.enumtypid = "
    "coalesce(el.oid, t.oid)) END, "
    "l.local OR b.typname IN ('int2vector', '_int2vector', 'char', '_char') "
    "OR t.typtype = 'c' OR el.typtype IN ('c', 'd'), "
    f"(CASE WHEN l.local THEN NULL WHEN el.oid IS NOT NULL THEN {UDT_JSON.format(t='el')} "
    f"ELSE {UDT_JSON.format(t='t')} END)::text FROM pg_attribute a "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
    "LEFT JOIN pg_type el ON el.oid = t.typelem AND t.typcategory = 'A' "
    "LEFT JOIN pg_type eb ON eb.oid = CASE WHEN el.typtype = 'd' THEN el.typbasetype "
    "ELSE el.oid END "
    # Types of one server, carried as their text (a domain over one too): no binary form,
    # or an oid that means nothing elsewhere (reg*).
    "CROSS JOIN LATERAL (SELECT b.typsend = 0 OR b.typname ~ '^_?reg' "
    "OR coalesce(eb.typsend = 0 OR eb.typname ~ '^reg', false) AS local) l "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum"
)
PRIMARY_KEY_SQL = (
    "SELECT a.attname FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.position"
)


# Arrow lists have one dimension and start at index 0: a PostgreSQL array with more
# dimensions would arrive flattened, and one with another lower bound without it. Rather than
# scan for such values first, every read carries a guard that makes PostgreSQL itself stop the
# read at the first one, with a message sluice recognises (ARRAY_GUARD) and completes.
ARRAY_GUARD = "sluice-array-guard::"


def array_guard(table: TableRef, columns: list[SourceColumn]) -> str:
    """A WHERE condition that is true for every row, and fails the read on an array value
    Arrow cannot hold exactly (more than one dimension, or a lower bound other than 1)."""
    checks = []
    for column in columns:
        if not pa.types.is_list(column.field.type) and not pa.types.is_large_list(
            column.field.type
        ):
            continue
        name = quote_ident(column.field.name)
        declared = declared_type_of(column.field) or "array"
        said = f"{ARRAY_GUARD}{table}::{column.field.name}::{declared}::"
        literal = "'" + said.replace("'", "''") + "'"
        # The cast of a row-dependent text to integer raises "invalid input syntax for type
        # integer: <text>" on that row only (a constant would fail when the plan is made).
        checks.append(
            f"(CASE WHEN array_ndims({name}) > 1 OR array_lower({name}, 1) <> 1 "
            f"THEN CAST({literal} || array_ndims({name}) || '::' || array_lower({name}, 1) "
            "AS integer) ELSE 1 END) = 1"
        )
    return " AND ".join(checks)


def text_numeric(column: SourceColumn, raw: pa.Field) -> SourceColumn:
    """Numeric is selected as text: PostgreSQL prints it about three times faster than the
    driver decodes the binary form, and `conform` casts the text to the same decimal128 (or
    keeps it, for numerics too wide for one) exactly, NaN refused as before."""
    kind = raw.type
    plain = column.expression == quote_ident(raw.name)
    if plain and isinstance(kind, pa.OpaqueType) and kind.type_name == "numeric":
        return SourceColumn(f"{column.expression}::text AS {column.expression}", column.field)
    return column


def with_metadata(column: SourceColumn, extra: dict[bytes, bytes]) -> SourceColumn:
    field = column.field
    return SourceColumn(column.expression, field.with_metadata({**(field.metadata or {}), **extra}))


def as_text(field: pa.Field) -> SourceColumn:
    quoted = quote_ident(field.name)
    return SourceColumn(f"{quoted}::text AS {quoted}", field.with_type(pa.string()))


def ctid_range(low: int | None, high: int | None) -> str:
    bounds = []
    if low is not None:
        bounds.append(f"ctid >= '({low},0)'::tid")
    if high is not None:
        bounds.append(f"ctid < '({high},0)'::tid")
    return " WHERE " + " AND ".join(bounds)


def and_where(where: str, condition: str) -> str:
    if not condition:
        return where
    return f"{where} AND {condition}" if where else f" WHERE {condition}"


def bound_text(value: Any) -> str:
    """The bound in PostgreSQL's input syntax; the query casts it to the key's own type."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    text: str = str(value)
    return text
