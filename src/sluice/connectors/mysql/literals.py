"""Values as MySQL literals: connectorx takes no parameters, so a read's bound is spliced in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sluice.connectors.mysql.types import TEXT_TYPES, MySQLColumn
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError


def bound_condition(key: str, fallback: str | None, bound: Any, columns: list[MySQLColumn]) -> str:
    """`key >= bound` (COALESCE(key, fallback) with a fallback) as the read's WHERE condition.

    A text key is compared as UTF-8 bytes, which is code-point order, the order the engine's
    exact filter uses afterwards: in the column's collation ('a' < 'B' case-insensitively,
    and trailing spaces ignored) the server would leave out rows the engine wants. This gives
    up an index on a text key; integer, decimal and time keys keep theirs.
    """
    kinds = {column.name: column.data_type for column in columns}
    expression = quote_ident(key, "`")
    if fallback:
        expression = f"COALESCE({expression}, {quote_ident(fallback, '`')})"
    if kinds.get(key) in TEXT_TYPES and isinstance(bound, str):
        return (
            f"CAST(CONVERT({expression} USING utf8mb4) AS BINARY) >= {sql_literal(bound.encode())}"
        )
    return f"{expression} >= {sql_literal(bound)}"


def sql_literal(value: Any) -> str:
    """`value` as a MySQL literal. connectorx takes no parameters, so the bound is spliced in:
    text and bytes as hexadecimal (no quote or backslash can end them, whatever the sql_mode),
    numbers, dates and times in their own digits-only spelling."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TerminalError(f"cannot use {value} as an incremental bound in MySQL")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TerminalError(f"cannot use {value} as an incremental bound in MySQL")
        return format(value, "f")
    if isinstance(value, datetime):
        # The session time zone is UTC: an aware bound is compared as UTC.
        naive = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        return "'" + naive.isoformat(sep=" ", timespec="microseconds") + "'"
    if isinstance(value, date):
        return "'" + value.isoformat() + "'"
    if isinstance(value, time):
        return "'" + value.isoformat(timespec="microseconds") + "'"
    if isinstance(value, timedelta):
        micros = abs(value) // timedelta(microseconds=1)
        seconds, fraction = divmod(micros, 1_000_000)
        sign = "-" if value < timedelta(0) else ""
        return (
            f"'{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{fraction:06d}'"
        )
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, str):
        return f"_utf8mb4 X'{value.encode().hex()}'" if value else "''"
    raise TerminalError(
        f"cannot use a {type(value).__name__} value as an incremental bound in MySQL"
    )
