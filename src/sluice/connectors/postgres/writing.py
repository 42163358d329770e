"""PostgreSQL columns as loaded: the Arrow type handed to binary COPY, the staged and the
declared PostgreSQL type of each lake field, and the batches in that wire form."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyarrow as pa

from sluice.connectors.datetime_text import DatetimeSpelling, datetime_text
from sluice.connectors.postgres.types import (
    declared_type_of,
    numeric_typmod,
    pg_type_of,
)
from sluice.core.errors import TerminalError
from sluice.core.infinity import holds_infinities
from sluice.core.infinity import marker as infinity_marker

# Declared types a text column keeps exactly: their values are the text, and binary COPY of
# the text fills them as they are.
_EXACT_TEXT_TYPE = re.compile(r"^(character varying(\(\d+\))?|character\(\d+\))(\[\])?$")

# Built-in types read as their text (no Arrow type holds them) whose text PostgreSQL reads back
# exactly: declared again in a PostgreSQL sink by their full declared type (bit(3), not bit),
# the values cast from the staged text by PostgreSQL's own input functions.
_TEXT_CAST_TYPE = re.compile(
    r'^(point|line|lseg|box|path|polygon|circle|tsvector|tsquery|jsonpath|pg_lsn|name|"char"'
    r"|int2vector|bit( varying)?(\(\d+\))?|(int4|int8|num|ts|tstz|date)(multi)?range)(\[\])?$"
)

# Arrays of the types above, as format_type prints them (with any modifier).
_RETYPED_ARRAY = re.compile(
    r"^(numeric|interval|inet|cidr|macaddr8?|time(\(\d\))? with time zone|xml|money)"
    r"(\(\d+(,-?\d+)?\)| [a-z ]+(\(\d\))?)?(\[\])+$"
)

# Declared types read as another type (the staged one here) and declared again as they were
# in a PostgreSQL sink: PostgreSQL's own cast from the staged type gives back each value.
REDECLARED_FROM = {"oid": "bigint", "oid[]": "bigint[]", "money": "text"}

# Types whose text form, read by the source, converts back exactly with a cast.
RETYPED_FROM_TEXT = frozenset(
    {"numeric", "interval", "inet", "cidr", "macaddr", "macaddr8", "timetz", "xml"}
)

# server_version_num of the first PostgreSQL whose numeric scale may be negative or exceed
# the precision (numeric(5,-2), numeric(3,5)).
NUMERIC_ANY_SCALE_SINCE = 150000

_NUMERIC_TYPMOD = re.compile(r"numeric\((\d+),(-?\d+)\)")


# ---- writing ---------------------------------------------------------------------------
# PostgreSQL's input text for dates and timestamps ('4714-11-24 00:00:00+00 BC').
POSTGRES_SPELLING = DatetimeSpelling(separator=" ", utc_suffix="+00", era_suffix=True)


@dataclass(frozen=True)
class SinkColumn:
    name: str
    wire: pa.DataType  # the Arrow type handed to the COPY writer
    staged: str  # the staging column's type, matching `wire`
    declared: str  # the final type; differs from `staged` only for retyped or exact text
    # Binary COPY of `wire` fills `declared` as it is (varchar(n), char(n)): a table COPYed
    # into and kept is created with it, and a staging table holds the plain text.
    direct: bool = False

    @property
    def copied(self) -> str:
        """The type of this column in a table that is COPYed into and then kept."""
        return self.declared if self.direct else self.staged


# Arrow types the COPY writer takes as they are, or after a lossless cast.
_SCALARS: tuple[tuple[pa.DataType, tuple[pa.DataType, ...], str], ...] = (
    (pa.bool_(), (pa.bool_(),), "boolean"),
    (pa.int16(), (pa.int8(), pa.uint8(), pa.int16()), "smallint"),
    (pa.int32(), (pa.uint16(), pa.int32()), "integer"),
    (pa.int64(), (pa.uint32(), pa.int64()), "bigint"),
    (pa.decimal128(20, 0), (pa.uint64(),), "numeric(20,0)"),
    (pa.float32(), (pa.float16(), pa.float32()), "real"),
    (pa.float64(), (pa.float64(),), "double precision"),
    (pa.string(), (pa.string(), pa.large_string(), pa.string_view(), pa.null()), "text"),
    (pa.binary(), (pa.binary(), pa.large_binary(), pa.binary_view()), "bytea"),
    (pa.date32(), (pa.date32(), pa.date64()), "date"),
    (pa.time64("us"), (pa.time32("s"), pa.time32("ms"), pa.time64("us"), pa.time64("ns")), "time"),
    (pa.month_day_nano_interval(), (pa.month_day_nano_interval(),), "interval"),
)


def sink_column(
    field: pa.Field,
    enum_type: str | None = None,
    *,
    server_version_num: int | None = None,
    udt_type: str | None = None,
) -> SinkColumn:
    """How a field is loaded; `enum_type` is the sink's enum for a column read from one,
    `udt_type` the sink's domain or composite type (or an array of one) for one read from that.

    `server_version_num` is the sink's (None: a current server): before PostgreSQL 15 a
    numeric's scale must lie between 0 and its precision, so such a column is unconstrained.
    """
    kind = field.type
    if isinstance(kind, pa.OpaqueType):
        return sink_column(
            field.with_type(kind.storage_type),
            enum_type,
            server_version_num=server_version_num,
            udt_type=udt_type,
        )
    if pa.types.is_dictionary(kind):
        return sink_column(
            field.with_type(kind.value_type),
            enum_type,
            server_version_num=server_version_num,
            udt_type=udt_type,
        )
    wire, staged = _wire_and_type(field.name, kind)
    if holds_infinities(field) and infinity_marker(kind) is not None:
        # Binary COPY cannot send an infinity: the column travels as PostgreSQL's own text.
        return SinkColumn(field.name, pa.string(), "text", udt_type or staged)
    declared = staged
    pg_type = pg_type_of(field)
    if staged == "text" and pg_type in RETYPED_FROM_TEXT:
        bounds = numeric_typmod(field) if pg_type == "numeric" else None
        declared = f"numeric({bounds[0]},{bounds[1]})" if bounds else str(pg_type)
    if server_version_num is not None and server_version_num < NUMERIC_ANY_SCALE_SINCE:
        # The older server refuses the typmod on every retry; unconstrained numeric holds
        # every value of the source's column exactly.
        staged, declared = _portable_numeric(staged), _portable_numeric(declared)
    if isinstance(kind, pa.JsonType) and pg_type == "json":
        declared = staged = "json"  # json keeps the text as given; jsonb is the default
    if udt_type is not None:  # PostgreSQL's cast from the staged type checks each value
        return SinkColumn(field.name, wire, staged, udt_type)
    if staged == "text" and enum_type is not None:
        # Staged as the enum too: text converts to an enum only by an explicit cast, which
        # the shared INSERT ... SELECT steps do not write.
        return SinkColumn(field.name, wire, enum_type, enum_type)
    if staged == "text[]" and enum_type is not None:
        # An array's binary form names its element type: staged as text[], then cast.
        return SinkColumn(field.name, wire, staged, f"{enum_type}[]")
    exact = declared_type_of(field)
    if exact is not None and REDECLARED_FROM.get(exact) == staged:
        declared = exact
    if staged in ("text", "text[]") and exact is not None and _TEXT_CAST_TYPE.match(exact):
        declared = exact
    if staged == "text" and exact is not None and _RETYPED_ARRAY.match(exact):
        declared = exact  # an array of one, read as the array's text
    if staged == "jsonb[]" and exact == "json[]":
        declared = staged = "json[]"
    if staged in ("text", "text[]") and exact and _EXACT_TEXT_TYPE.match(exact):
        return SinkColumn(field.name, wire, staged, exact, direct=True)
    return SinkColumn(field.name, wire, staged, declared)


def _portable_numeric(pg_type: str) -> str:
    """`pg_type` with a numeric(p,s) whose scale is negative or above p made unconstrained."""

    def portable(match: re.Match[str]) -> str:
        precision, scale = int(match.group(1)), int(match.group(2))
        return match.group(0) if 0 <= scale <= precision else "numeric"

    return _NUMERIC_TYPMOD.sub(portable, pg_type)


def _wire_and_type(name: str, kind: pa.DataType) -> tuple[pa.DataType, str]:
    for wire, accepted, pg_type in _SCALARS:
        if kind in accepted:
            return wire, pg_type
    if pa.types.is_decimal(kind):
        return kind, f"numeric({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        # PostgreSQL keeps microseconds; the cast refuses to drop finer digits silently.
        return pa.timestamp("us", kind.tz), "timestamptz" if kind.tz else "timestamp"
    if pa.types.is_duration(kind):
        return pa.duration("us"), "interval"
    if pa.types.is_fixed_size_binary(kind):
        return pa.binary(), "bytea"
    if isinstance(kind, pa.UuidType):
        return kind, "uuid"
    if isinstance(kind, pa.JsonType):
        return kind, "jsonb"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = kind.value_type
        if not (pa.types.is_nested(item) or isinstance(item, pa.ExtensionType)):
            item_wire, item_type = _wire_and_type(name, item)
            return pa.list_(item_wire), f"{item_type}[]"
    if pa.types.is_nested(kind):
        return pa.json_(pa.string()), "jsonb"
    raise TerminalError(
        f"column {name!r} has Arrow type {kind}, which the PostgreSQL sink cannot store; "
        "cast it to a supported type in the source"
    )


def to_wire(batch: pa.RecordBatch, columns: list[SinkColumn], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for array, column in zip(batch.columns, columns, strict=True):
        if array.type == column.wire:
            arrays.append(array)
            continue
        values = array.storage if isinstance(array.type, pa.OpaqueType) else array
        try:
            if isinstance(column.wire, pa.JsonType) and pa.types.is_nested(values.type):
                arrays.append(_json_text(values, column.wire))
            elif pa.types.is_string(column.wire) and infinity_marker(values.type) is not None:
                arrays.append(datetime_text(values, POSTGRES_SPELLING))
            else:
                arrays.append(values.cast(column.wire))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TerminalError(
                f"column {column.name!r} cannot be stored as PostgreSQL {column.declared} "
                f"without losing data: {exc}"
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _json_text(values: pa.Array, json_type: pa.DataType) -> pa.Array:
    # Structs and maps have no Arrow cast to JSON text: a per-value path, for these columns only.
    text = [None if v is None else json.dumps(v, default=str) for v in values.to_pylist()]
    return pa.ExtensionArray.from_storage(json_type, pa.array(text, pa.string()))
