"""BigQuery SQL as sluice writes it: identifiers quoted with backticks, values as literals.

Statements run as scripts (a transaction is one script), where the client's query
parameters do not reach every statement; so the few values sluice puts in its own SQL (table
names in the state table, batch ids, times) are written as literals here, escaped as
BigQuery's lexical rules say. Rows never pass through here: they are loaded from Parquet.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sluice.core.errors import TerminalError

# Characters BigQuery allows in a column name besides letters, marks, numbers, connectors,
# dashes and spaces (its "flexible column names").
_COLUMN_EXTRA = frozenset("&%=+:'<>#|")
_NAME_CATEGORIES = ("L", "M", "N", "Pc", "Pd", "Zs")
MAX_COLUMN_CHARS = 300
MAX_TABLE_BYTES = 1024


def quote(name: str) -> str:
    """`name` as a quoted identifier; a backslash escapes inside backticks."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    escaped = (
        text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    )
    return f"'{escaped}'"


def bind(sql: str, params: tuple[Any, ...]) -> str:
    """`sql` with each `?` outside quotes and backticks replaced by the next value."""
    if not params:
        return sql
    out: list[str] = []
    values = iter(params)
    closing: str | None = None
    escaped = False
    for char in sql:
        if closing is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == closing:
                closing = None
            out.append(char)
        elif char in "'`\"":
            closing = char
            out.append(char)
        elif char == "?":
            try:
                out.append(literal(next(values)))
            except StopIteration:
                raise ValueError(f"more placeholders than values in {sql!r}") from None
        else:
            out.append(char)
    if next(values, None) is not None:
        raise ValueError(f"more values than placeholders in {sql!r}")
    return "".join(out)


def check_column_name(table: object, name: str) -> None:
    """Refuse a column name BigQuery would refuse, before anything is loaded."""
    bad = sorted({c for c in name if c not in _COLUMN_EXTRA and not _allowed(c)})
    if bad or not name or len(name) > MAX_COLUMN_CHARS:
        why = f"holds {''.join(bad)!r}" if bad else f"is not 1 to {MAX_COLUMN_CHARS} characters"
        raise TerminalError(
            f"column {name!r} of sink table {table} {why}, which a BigQuery column name cannot: "
            "rename it in a view on the source (BigQuery allows letters, digits, marks, "
            "spaces, '_', '-' and &%=+:'<>#|)"
        )


def check_table_name(name: str) -> None:
    bad = sorted({c for c in name if not _allowed(c)})
    if bad or not name or len(name.encode()) > MAX_TABLE_BYTES:
        why = f"holds {''.join(bad)!r}" if bad else f"is not 1 to {MAX_TABLE_BYTES} bytes"
        raise TerminalError(
            f"sink table name {name!r} {why}, which a BigQuery table name cannot: give the "
            "table another --sink-table (letters, digits, marks, spaces, '_' and '-')"
        )


def _allowed(char: str) -> bool:
    return unicodedata.category(char).startswith(_NAME_CATEGORIES)
