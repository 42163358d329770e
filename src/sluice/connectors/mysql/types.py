"""MySQL/MariaDB declared types -> Arrow, exactly, from information_schema.COLUMNS.

connectorx decodes most types natively and exactly (every integer width, signed and unsigned,
bigint unsigned to uint64 included; float, double, strings, binaries, year, bit, date,
datetime, timestamp). What it cannot give exactly is selected as text and converted here:

- decimal: connectorx makes every DECIMAL a decimal128(38,10) through rust_decimal, whose
  28 digits hold a value rescaled to 10 places only while it has at most 18 digits before
  the point; it rounds a value with more places (0.00000000001 became 0) and fails on more
  digits. So a DECIMAL(p,s) with s <= 10 and p - s <= 18 is read natively and cast to
  decimal128(p,s) (a safe cast: exact); other ones up to 18 digits are selected as their
  value times 10**scale in a BIGINT and rebuilt; up to 38 the text is parsed; above 38 it
  stays exact text (marked numeric, so a PostgreSQL sink declares it again).
- time: Arrow's time64 holds 00:00..24:00 only, MySQL's TIME -838:59:59..838:59:59, so it
  becomes duration('us') (a PostgreSQL interval, a DuckDB INTERVAL).
- json (MySQL 8): connectorx re-serialises it through serde; MySQL's own text is kept.

A zero date ('0000-00-00', or a zero month or day) fits no date type: the table's policy
fails the read naming the column, or reads it as NULL (zerodates.py).

Every field carries its declared type (COLUMN_TYPE, e.g. "bigint(20) unsigned",
"decimal(65,30)", "tinyint(1)") in its metadata: `sluice.declared_type`, with `sluice.system`
mysql (connectors/declared.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.declared import declared_by, declaring
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError

SYSTEM_NAME = "mysql"
# The keys the PostgreSQL source puts on numeric read as text (postgres/types.py): a
# PostgreSQL sink declares numeric(p,s) again from them.
PG_TYPE = b"POSTGRESQL:type"
PG_TYPMOD = b"POSTGRESQL:typmod"
DECIMAL128_MAX_PRECISION = 38
# Below 19 digits a decimal times 10**scale fits a signed 64-bit integer.
SCALED_MAX_PRECISION = 18
# connectorx's decimals: rust_decimal's 28 digits, rescaled to 10 places (module docstring).
NATIVE_DECIMAL_SCALE = 10
NATIVE_DECIMAL_WHOLE_DIGITS = 18

_INTEGERS: dict[str, tuple[pa.DataType, pa.DataType]] = {
    "tinyint": (pa.int8(), pa.uint8()),
    "smallint": (pa.int16(), pa.uint16()),
    "mediumint": (pa.int32(), pa.uint32()),
    "int": (pa.int32(), pa.uint32()),
    "integer": (pa.int32(), pa.uint32()),
    "bigint": (pa.int64(), pa.uint64()),
}
TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
)
# Read natively: the declared type decides the Arrow type; connectorx's is cast to it.
_NATIVE: dict[str, pa.DataType] = {
    "float": pa.float32(),
    "double": pa.float64(),
    "real": pa.float64(),
    "year": pa.int16(),
    "bit": pa.binary(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    # TIMESTAMP is stored in UTC and shown in the session time zone, which is '+00:00'.
    "timestamp": pa.timestamp("us", tz="UTC"),
    **dict.fromkeys(TEXT_TYPES, pa.string()),
    **dict.fromkeys(
        ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), pa.binary()
    ),
}
# Read as CAST(col AS CHAR) and converted from that text.
_FROM_TEXT: dict[str, pa.DataType] = {
    "time": pa.duration("us"),
    "json": pa.string(),
    # MariaDB's own types, kept as their canonical text.
    "uuid": pa.string(),
    "inet4": pa.string(),
    "inet6": pa.string(),
}
_SPATIAL = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)
_TIME_TEXT = r"^(?P<sign>-?)(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<f>\d{1,6}))?$"
DATE_TYPES = frozenset({"date", "datetime", "timestamp"})


@dataclass(frozen=True)
class MySQLColumn:
    """One column as information_schema.COLUMNS describes it."""

    name: str
    data_type: str  # DATA_TYPE, lower case: "bigint"
    column_type: str  # COLUMN_TYPE: "bigint(20) unsigned"
    precision: int | None = None
    scale: int | None = None

    @property
    def unsigned(self) -> bool:
        return " unsigned" in self.column_type.lower()

    @property
    def decimal(self) -> bool:
        return self.data_type in ("decimal", "numeric")

    @property
    def native_decimal(self) -> bool:
        """A decimal connectorx reads exactly (module docstring): no work on the server."""
        precision, scale = self.precision or 10, self.scale or 0
        return (
            self.decimal
            and scale <= NATIVE_DECIMAL_SCALE
            and precision - scale <= NATIVE_DECIMAL_WHOLE_DIGITS
        )

    @property
    def as_text(self) -> bool:
        return self.data_type in _FROM_TEXT or (self.decimal and not self.native_decimal)

    @property
    def scaled(self) -> bool:
        """A decimal read as its value times 10**scale in a BIGINT: exact below 19 digits,
        and half the work of text (no digits to print on the server or parse here)."""
        return (
            self.decimal
            and not self.native_decimal
            and (self.precision or 10) <= SCALED_MAX_PRECISION
        )

    def expression(self) -> str:
        """The SELECT list item."""
        quoted = quote_ident(self.name, "`")
        if self.scaled:
            # An integer literal: the product stays DECIMAL (exact); 1eN would make it DOUBLE.
            factor = f" * {10**self.scale}" if self.scale else ""
            return f"CAST({quoted}{factor} AS SIGNED) AS {quoted}"
        if self.as_text:
            return f"CAST({quoted} AS CHAR) AS {quoted}"
        return quoted

    def field(self, table: str) -> pa.Field:
        metadata = declaring(SYSTEM_NAME, self.column_type)
        kind = self.data_type
        if kind in _INTEGERS:
            return pa.field(self.name, _INTEGERS[kind][self.unsigned], metadata=metadata)
        if kind in ("decimal", "numeric"):
            precision, scale = self.precision or 10, self.scale or 0
            if precision <= DECIMAL128_MAX_PRECISION:
                return pa.field(self.name, pa.decimal128(precision, scale), metadata=metadata)
            # Wider than decimal128: the exact text, as the PostgreSQL source keeps numeric.
            typmod = str(((precision << 16) | scale) + 4).encode()
            metadata |= {PG_TYPE: b"numeric", PG_TYPMOD: typmod}
            return pa.field(self.name, pa.string(), metadata=metadata)
        kind_type = _NATIVE.get(kind) or _FROM_TEXT.get(kind)
        if kind_type is not None:
            return pa.field(self.name, kind_type, metadata=metadata)
        fix = (
            f"ST_AsText({quote_ident(self.name, '`')})"
            if kind in _SPATIAL
            else f"CAST({quote_ident(self.name, '`')} AS CHAR)"
        )
        raise TerminalError(
            f"column {self.name!r} of {table} has type {self.column_type}, which sluice "
            f"cannot read exactly yet: read the table through a view that selects {fix} AS "
            f"{quote_ident(self.name, '`')}"
        )


def declared_type_of(field: pa.Field) -> str | None:
    """The type a MySQL source declared the column as (None: another system's, or none)."""
    return declared_by(field, SYSTEM_NAME)


def conform(raw: pa.RecordBatch, schema: pa.Schema, table: str) -> pa.RecordBatch:
    """A batch as connectorx gave it, in the planned schema; refused where a value would change."""
    arrays = [_column(raw.column(field.name), field, table) for field in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _column(values: pa.Array, field: pa.Field, table: str) -> pa.Array:
    target = field.type
    if values.type == target:
        return values
    if pa.types.is_null(values.type):  # connectorx's type for a column that is all NULL
        return pa.nulls(len(values), target)
    try:
        if pa.types.is_decimal(target) and pa.types.is_integer(values.type):
            return _unscaled(values, target)
        if pa.types.is_duration(target):
            return _duration(values)
        if pa.types.is_timestamp(target) and target.tz is not None:
            # The values are UTC (the session's time zone): only the label changes.
            return values.cast(pa.timestamp(target.unit)).cast(target)
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _refusal(values, field, table, exc) from None


def _unscaled(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Integers that are a decimal's value times 10**scale, as that decimal: the same 128-bit
    integer Arrow stores, sign-extended, with the validity kept."""
    ints = values.cast(pa.int64())
    if ints.offset:
        ints = pa.concat_arrays([ints])  # a copy at offset 0, whose buffers line up
    low = ints.fill_null(0).to_numpy(zero_copy_only=False)
    words = np.empty((len(low), 2), dtype=np.int64)
    words[:, 0] = low
    words[:, 1] = low >> 63
    validity = ints.buffers()[0] if ints.null_count else None
    return pa.Array.from_buffers(
        target, len(ints), [validity, pa.py_buffer(words)], null_count=ints.null_count
    )


def _duration(text: pa.Array) -> pa.Array:
    """MySQL TIME text ('-838:59:59.000000') as microseconds: exact, any sign, past 24h."""
    parts = pc.extract_regex(text.cast(pa.string()), _TIME_TEXT)
    hours = pc.struct_field(parts, "h").cast(pa.int64())
    minutes = pc.struct_field(parts, "m").cast(pa.int64())
    seconds = pc.struct_field(parts, "s").cast(pa.int64())
    fraction = pc.utf8_rpad(pc.struct_field(parts, "f"), width=6, padding="0").cast(pa.int64())
    total = pc.add(
        pc.multiply(
            pc.add(pc.multiply(pc.add(pc.multiply(hours, 60), minutes), 60), seconds), 1_000_000
        ),
        fraction,
    )
    negative = pc.equal(pc.struct_field(parts, "sign"), "-")
    signed = pc.if_else(negative, pc.negate(total), total)
    if signed.null_count != text.null_count:  # a spelling the pattern does not know: no NULL
        unknown = pc.filter(text, pc.and_(pc.is_valid(text), pc.is_null(signed)))
        raise pa.ArrowInvalid(f"unrecognised TIME text {unknown[0].as_py()!r}")
    return signed.cast(pa.duration("us"))


def _refusal(values: pa.Array, field: pa.Field, table: str, exc: Exception) -> TerminalError:
    declared = declared_type_of(field) or str(field.type)
    quoted = quote_ident(field.name, "`")
    return TerminalError(
        f"column {field.name!r} ({declared}) of {table} holds a value that {field.type} "
        f"cannot hold exactly: {exc}; nothing was published: read the column through a view "
        f"that casts it (e.g. CAST({quoted} AS CHAR) AS {quoted})"
    )
