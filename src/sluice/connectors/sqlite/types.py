"""SQLite declared types to Arrow, by SQLite's own affinity rules (sqlite.org/datatype3.html).

SQLite stores NUMERIC/DECIMAL values as REAL or INTEGER, so they arrive as float64: the exact
digits were never stored. DATETIME/TIMESTAMP/DATE are text in SQLite and are parsed.
"""

from __future__ import annotations

import pyarrow as pa


def arrow_type(declared: str) -> pa.DataType:
    decl = declared.upper()
    if "BOOL" in decl:
        return pa.bool_()
    if "DATETIME" in decl or "TIMESTAMP" in decl:
        return pa.timestamp("us")
    if decl.startswith("DATE"):
        return pa.date32()
    if "INT" in decl:
        return pa.int64()
    if any(word in decl for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in decl:
        return pa.binary()
    if any(word in decl for word in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return pa.float64()
    # An undeclared column may hold anything: text keeps every value readable.
    return pa.string()


def declared_type(arrow: pa.DataType) -> str:
    """The column type a SQLite sink declares for an Arrow type."""
    if pa.types.is_boolean(arrow):
        return "BOOLEAN"
    if pa.types.is_integer(arrow):
        return "INTEGER"
    if pa.types.is_floating(arrow):
        return "REAL"
    if pa.types.is_decimal(arrow):
        return f"NUMERIC({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP"
    if pa.types.is_date(arrow):
        return "DATE"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return "BLOB"
    return "TEXT"
