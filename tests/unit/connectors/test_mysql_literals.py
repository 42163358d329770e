"""MySQL literals for the bounds spliced into a read: a table of value -> SQL text."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from sluice.connectors.mysql.literals import bound_condition, sql_literal
from sluice.connectors.mysql.types import MySQLColumn
from sluice.core.errors import TerminalError


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (True, "1"),
        (-(2**63), "-9223372036854775808"),
        (2**64 - 1, "18446744073709551615"),
        (0.1, "0.1"),
        (Decimal("-1E+3"), "-1000"),
        (Decimal("0.000001"), "0.000001"),
        (datetime(1, 1, 1), "'0001-01-01 00:00:00.000000'"),
        (datetime(2024, 2, 29, 12, 0, 0, 5), "'2024-02-29 12:00:00.000005'"),
        (datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
         "'2024-01-01 00:00:00.000000'"),
        (datetime(2024, 1, 1, tzinfo=UTC), "'2024-01-01 00:00:00.000000'"),
        (date(999, 12, 31), "'0999-12-31'"),
        (time(23, 59, 59, 999999), "'23:59:59.999999'"),
        (-timedelta(hours=838, minutes=59, seconds=59), "'-838:59:59.000000'"),
        (timedelta(seconds=1.5), "'0:00:01.500000'"),
        (b"\x00'\\", "X'00275c'"),
        ("", "''"),
        ("O'Brien\\", "_utf8mb4 X'4f27427269656e5c'"),
        ("😀", "_utf8mb4 X'f09f9880'"),
    ],
)  # fmt: skip
def test_literal(value: Any, literal: str) -> None:
    assert sql_literal(value) == literal


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity"), object()]
)
def test_values_without_a_literal_are_refused(value: Any) -> None:
    with pytest.raises(TerminalError, match="incremental bound in MySQL"):
        sql_literal(value)


COLUMNS = [
    MySQLColumn("name", "varchar", "varchar(20)"),
    MySQLColumn("alias", "text", "text"),
    MySQLColumn("at", "datetime", "datetime(6)"),
]


@pytest.mark.parametrize(
    ("key", "fallback", "bound", "condition"),
    [
        ("at", None, datetime(2024, 1, 1), "`at` >= '2024-01-01 00:00:00.000000'"),
        ("name", None, "B", "CAST(CONVERT(`name` USING utf8mb4) AS BINARY) >= X'42'"),
        ("name", "alias", "é",
         "CAST(CONVERT(COALESCE(`name`, `alias`) USING utf8mb4) AS BINARY) >= X'c3a9'"),
    ],
)  # fmt: skip
def test_bound_condition(key: str, fallback: str | None, bound: Any, condition: str) -> None:
    assert bound_condition(key, fallback, bound, COLUMNS) == condition
