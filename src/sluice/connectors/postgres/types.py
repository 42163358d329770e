"""PostgreSQL types <-> Arrow, both ways.

Reading, ADBC's binary COPY gives most types natively. What it cannot give usefully is fixed
here: numeric arrives as an opaque string (with its typmod in the field metadata) and becomes
decimal128(p, s) where that is exact, else stays exact text; types ADBC only knows as raw
binary (inet, timetz, ranges, ...) and intervals (which Parquet cannot hold) are read as text.

Writing, ADBC's COPY writer encodes by the Arrow type and refuses a column whose type does not
match it, so every Arrow type maps to exactly one wire type and one PostgreSQL type. Text that a
PostgreSQL source read from a richer type (field metadata `POSTGRESQL:type`) is loaded as text
and then converted back, so a PostgreSQL-to-PostgreSQL copy keeps numeric and its friends.

The driver names a column's type but not its modifier, so the source also records each
column's declared type (`sluice.pg_type`, as format_type() prints it) and an enum's name and
labels (`sluice.pg_enum`). A PostgreSQL sink declares varchar(n), char(n) and enums from them;
their binary COPY form is the text's, so they are written directly, with no conversion.
The batches of one load may have been read with different declared types (the source changed
a column between them): the load declares the widest of them (`widest_metadata`), so that
every value the lake holds fits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.datetime_text import DatetimeSpelling, datetime_text
from sluice.core.errors import TerminalError
from sluice.core.infinity import count_infinities, holds_infinities
from sluice.core.infinity import marker as infinity_marker

PG_TYPE = b"POSTGRESQL:type"
PG_TYPMOD = b"POSTGRESQL:typmod"
# Written by the PostgreSQL source: format_type(atttypid, atttypmod) of every column, and
# {"name": typname, "labels": [...in sort order]} of an enum column.
DECLARED_TYPE = b"sluice.pg_type"
ENUM_TYPE = b"sluice.pg_enum"
UDT_TYPE = b"sluice.pg_udt"
# A domain's or composite type's definition as JSON, from the pg_type row `{t}`: a domain's
# base type, NOT NULL and CHECK constraints; a composite's attribute names and types.
UDT_JSON = (
    "CASE WHEN {t}.typtype = 'd' THEN json_build_object('kind', 'domain', 'name', {t}.typname, "
    "'base', format_type({t}.typbasetype, {t}.typtypmod), 'not_null', {t}.typnotnull, "
    "'checks', (SELECT coalesce(json_agg(pg_get_constraintdef(c.oid) ORDER BY c.conname), "
    "'[]') FROM pg_constraint c WHERE c.contypid = {t}.oid)) "
    "WHEN {t}.typtype = 'c' THEN json_build_object('kind', 'composite', 'name', {t}.typname, "
    "'attributes', (SELECT coalesce(json_agg(json_build_array(ca.attname, "
    "format_type(ca.atttypid, ca.atttypmod)) ORDER BY ca.attnum), '[]') FROM pg_attribute ca "
    "WHERE ca.attrelid = {t}.typrelid AND ca.attnum > 0 AND NOT ca.attisdropped)) END"
)
# Declared types a text column keeps exactly: their values are the text, and binary COPY of
# the text fills them as they are.
_EXACT_TEXT_TYPE = re.compile(r"^(character varying(\(\d+\))?|character\(\d+\))(\[\])?$")
# format_type's spelling of a sized text type: kind, length (none: unbounded), array marker.
SIZED_TEXT = re.compile(r"^(character varying|character)(?:\((\d+)\))?(\[\])?$")
DECIMAL128_MAX_PRECISION = 38
# server_version_num of the first PostgreSQL whose numeric scale may be negative or exceed
# the precision (numeric(5,-2), numeric(3,5)).
NUMERIC_ANY_SCALE_SINCE = 150000
_NUMERIC_TYPMOD = re.compile(r"numeric\((\d+),(-?\d+)\)")
# Types whose text form, read by the source, converts back exactly with a cast.
RETYPED_FROM_TEXT = frozenset(
    {"numeric", "interval", "inet", "cidr", "macaddr", "macaddr8", "timetz", "xml"}
)
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


def pg_type_of(field: pa.Field) -> str | None:
    value = (field.metadata or {}).get(PG_TYPE)
    return value.decode() if value is not None else None


def numeric_typmod(field: pa.Field) -> tuple[int, int] | None:
    """(precision, scale) of a numeric column, or None when it is unconstrained."""
    typmod = int((field.metadata or {}).get(PG_TYPMOD, b"-1"))
    if typmod < 4:
        return None
    packed = typmod - 4  # PostgreSQL adds VARHDRSZ
    scale = packed & 0x7FF
    if scale & 0x400:  # an 11-bit signed scale since PostgreSQL 15
        scale -= 0x800
    return packed >> 16, scale


def declared_type_of(field: pa.Field) -> str | None:
    value = (field.metadata or {}).get(DECLARED_TYPE)
    return value.decode() if value is not None else None


def enum_of(field: pa.Field) -> tuple[str, tuple[str, ...]] | None:
    """(type name, labels in order) of a column read from a PostgreSQL enum, else None."""
    value = (field.metadata or {}).get(ENUM_TYPE)
    kind = field.type
    if pa.types.is_list(kind):  # an array of the enum
        kind = kind.value_type
    if value is None or not _is_text(kind):
        return None
    return _enum_body(value)


def declared_metadata(
    pg_type: str, enum: tuple[str, list[str]] | None, udt: str | None = None
) -> dict[bytes, bytes]:
    """The field metadata recording a column's declared type (and its enum's labels, or
    its domain's or composite type's definition: UDT_JSON)."""
    metadata = {DECLARED_TYPE: pg_type.encode()}
    if enum is not None:
        name, labels = enum
        metadata[ENUM_TYPE] = json.dumps({"name": name, "labels": labels}).encode()
    if udt is not None:
        metadata[UDT_TYPE] = udt.encode()
    return metadata


# ---- one load over batches read with different declared types ----------------------------
def widest_metadata(
    older: Mapping[bytes, bytes] | None, newer: Mapping[bytes, bytes] | None
) -> dict[bytes, bytes] | None:
    """The metadata of a column whose batches were read with `older` and `newer`: the newer
    one, its declared type widened until every older value fits too.

    A load declares the column once for all its batches, and an older batch may hold values
    a source column since narrowed no longer allows (varchar(50) -> varchar(10), an enum label
    renamed): the newer type alone would refuse them on every retry.
    """
    if older == newer:
        return dict(newer) if newer is not None else None
    old, new = dict(older or {}), dict(newer or {})
    merged = dict(new)
    declared, enum = _widest_declared(old, new)
    for key, value in ((DECLARED_TYPE, declared), (ENUM_TYPE, enum)):
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    # Text read from a richer type (numeric, inet, ...) converts back only when every batch
    # was read from the same type; an unconstrained numeric holds every numeric(p,s).
    if old.get(PG_TYPE) != new.get(PG_TYPE):
        merged.pop(PG_TYPE, None)
        merged.pop(PG_TYPMOD, None)
    elif old.get(PG_TYPMOD) != new.get(PG_TYPMOD):
        merged.pop(PG_TYPMOD, None)
    return merged or None


def _widest_declared(
    old: dict[bytes, bytes], new: dict[bytes, bytes]
) -> tuple[bytes | None, bytes | None]:
    """(declared type, enum) covering both batches' values."""
    old_type, new_type = old.get(DECLARED_TYPE), new.get(DECLARED_TYPE)
    old_enum, new_enum = old.get(ENUM_TYPE), new.get(ENUM_TYPE)
    if old_enum is not None or new_enum is not None:
        if old_enum is not None and new_enum is not None:
            old_name, old_labels = _enum_body(old_enum)
            new_name, new_labels = _enum_body(new_enum)
            # The sink can add labels to an enum, never remove or reorder them.
            if old_name == new_name and is_subsequence(old_labels, new_labels):
                return new_type, new_enum
            if old_name == new_name and is_subsequence(new_labels, old_labels):
                return old_type, old_enum
        return b"text", None
    if old_type == new_type:
        return new_type, None
    old_shape, new_shape = _text_shape(old_type), _text_shape(new_type)
    if old_shape is None or new_shape is None:
        shape = old_shape or new_shape
        if shape is None:
            return new_type or old_type, None  # not text: the Arrow types decide the rest
        # Text meets another type read as text (numeric, ...), or a batch that recorded no
        # declared type (an earlier sluice, loaded as text): only text holds both.
        return b"text" + shape[2].encode(), None
    (old_kind, old_size, suffix), (new_kind, new_size, new_suffix) = old_shape, new_shape
    if suffix != new_suffix:
        return new_type, None  # text and text[]: check_compatible refuses the pair
    if "text" in (old_kind, new_kind):
        return b"text" + suffix.encode(), None
    if old_size is None or new_size is None:
        return b"character varying" + suffix.encode(), None  # only varchar is unbounded
    # varchar where char meets varchar: char(n) values arrive padded to n, which varchar keeps
    # as they are, while a char column would pad the varchar values.
    kind = old_kind if old_kind == new_kind else "character varying"
    return f"{kind}({max(old_size, new_size)}){suffix}".encode(), None


def _text_shape(declared: bytes | None) -> tuple[str, int | None, str] | None:
    """(kind, size or None when unbounded, array suffix) of a text type, else None."""
    if declared is None:
        return None
    text = declared.decode()
    if text in ("text", "text[]"):
        return "text", None, text[4:]
    sized = SIZED_TEXT.match(text)
    if sized is None:
        return None
    return sized.group(1), int(sized.group(2)) if sized.group(2) else None, sized.group(3) or ""


def _enum_body(value: bytes) -> tuple[str, tuple[str, ...]]:
    body = json.loads(value)
    return str(body["name"]), tuple(str(label) for label in body["labels"])


def is_subsequence(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    """Whether `part` is `whole` with some labels left out, in the same order."""
    remaining = iter(whole)
    return all(label in remaining for label in part)


def _is_text(kind: pa.DataType) -> bool:
    if isinstance(kind, pa.ExtensionType):
        return False
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


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
