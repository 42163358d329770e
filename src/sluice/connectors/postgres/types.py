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
column's declared type (`sluice.declared_type` with `sluice.system` postgres, as
format_type() prints it) and an enum's name and
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

import pyarrow as pa

from sluice.connectors.declared import DECLARED, SYSTEM, declared_by, declaring, neutral

PG_TYPE = b"POSTGRESQL:type"
PG_TYPMOD = b"POSTGRESQL:typmod"
# Written by the PostgreSQL source: format_type(atttypid, atttypmod) of every column, and
# {"name": typname, "labels": [...in sort order]} of an enum column.
DECLARED_TYPE = DECLARED  # neutral: the system is recorded beside it (connectors/declared.py)
SYSTEM_NAME = "postgres"
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

# format_type's spelling of a sized text type: kind, length (none: unbounded), array marker.
SIZED_TEXT = re.compile(r"^(character varying|character)(?:\((\d+)\))?(\[\])?$")
DECIMAL128_MAX_PRECISION = 38


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
    """The type a PostgreSQL source declared the column as (None: another system's, or none)."""
    return declared_by(field, SYSTEM_NAME)


def enum_of(field: pa.Field) -> tuple[str, tuple[str, ...]] | None:
    """(type name, labels in order) of a column read from a PostgreSQL enum, else None."""
    value = (field.metadata or {}).get(ENUM_TYPE)
    kind = field.type
    if pa.types.is_list(kind):  # an array of the enum
        kind = kind.value_type
    if value is None or not is_text(kind):
        return None
    return _enum_body(value)


def declared_metadata(
    pg_type: str, enum: tuple[str, list[str]] | None, udt: str | None = None
) -> dict[bytes, bytes]:
    """The field metadata recording a column's declared type (and its enum's labels, or
    its domain's or composite type's definition: UDT_JSON)."""
    metadata = declaring(SYSTEM_NAME, pg_type)
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
    old, new = neutral(older), neutral(newer)
    if new.get(SYSTEM, SYSTEM_NAME.encode()) != SYSTEM_NAME.encode():
        return new or None  # another system's column: not PostgreSQL's to widen
    if old.get(SYSTEM, SYSTEM_NAME.encode()) != SYSTEM_NAME.encode():
        old = {}
    merged = dict(new)
    declared, enum = _widest_declared(old, new)
    for key, value in ((DECLARED_TYPE, declared), (ENUM_TYPE, enum)):
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if DECLARED_TYPE in merged:
        merged[SYSTEM] = SYSTEM_NAME.encode()
    else:
        merged.pop(SYSTEM, None)
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


def is_text(kind: pa.DataType) -> bool:
    if isinstance(kind, pa.ExtensionType):
        return False
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )
