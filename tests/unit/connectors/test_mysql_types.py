"""MySQL declared types -> Arrow fields, and the TIME text -> duration conversion, as tables."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from sluice.connectors.mysql.types import MySQLColumn, conform, declared_type_of
from sluice.core.errors import TerminalError


@pytest.mark.parametrize(
    ("data_type", "column_type", "precision", "scale", "arrow_type", "selected"),
    [
        ("tinyint", "tinyint(1)", None, None, pa.int8(), "`c`"),
        ("bigint", "bigint(20) unsigned", None, None, pa.uint64(), "`c`"),
        ("mediumint", "mediumint(8) unsigned", None, None, pa.uint32(), "`c`"),
        ("decimal", "decimal(12,2)", 12, 2, pa.decimal128(12, 2), "`c`"),
        ("decimal", "decimal(28,10)", 28, 10, pa.decimal128(28, 10), "`c`"),
        ("decimal", "decimal(12,11)", 12, 11, pa.decimal128(12, 11),
         "CAST(`c` * 100000000000 AS SIGNED) AS `c`"),
        ("decimal", "decimal(29,10)", 29, 10, pa.decimal128(29, 10), "CAST(`c` AS CHAR) AS `c`"),
        ("decimal", "decimal(38,0)", 38, 0, pa.decimal128(38, 0), "CAST(`c` AS CHAR) AS `c`"),
        ("decimal", "decimal(39,2)", 39, 2, pa.string(), "CAST(`c` AS CHAR) AS `c`"),
        ("timestamp", "timestamp(3)", None, None, pa.timestamp("us", "UTC"), "`c`"),
        ("time", "time", None, None, pa.duration("us"), "CAST(`c` AS CHAR) AS `c`"),
        ("json", "json", None, None, pa.string(), "CAST(`c` AS CHAR) AS `c`"),
        ("bit", "bit(3)", None, None, pa.binary(), "`c`"),
        ("set", "set('a','b')", None, None, pa.string(), "`c`"),
    ],
)
def test_declared_type_gives_field_and_select(
    data_type: str,
    column_type: str,
    precision: int | None,
    scale: int | None,
    arrow_type: pa.DataType,
    selected: str,
) -> None:
    column = MySQLColumn("c", data_type, column_type, precision, scale)
    field = column.field("`db`.`t`")
    assert field.type == arrow_type
    assert declared_type_of(field) == column_type
    assert column.expression() == selected


@pytest.mark.parametrize("data_type", ["point", "geometry", "vector"])
def test_types_without_an_exact_form_are_refused(data_type: str) -> None:
    with pytest.raises(TerminalError, match=rf"column 'c' of `db`.`t` has type {data_type}"):
        MySQLColumn("c", data_type, data_type).field("`db`.`t`")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-838:59:59.000000", -timedelta(hours=838, minutes=59, seconds=59)),
        ("838:59:59.999999", timedelta(hours=838, minutes=59, seconds=59, microseconds=999999)),
        ("-00:00:00.000001", -timedelta(microseconds=1)),
        ("00:00:01.5", timedelta(seconds=1.5)),
        ("12:00:00", timedelta(hours=12)),
        (None, None),
    ],
)
def test_time_text_becomes_an_exact_duration(text: str | None, value: timedelta | None) -> None:
    field = MySQLColumn("c", "time", "time(6)").field("`db`.`t`")
    raw = pa.record_batch([pa.array([text], pa.string())], names=["c"])
    assert conform(raw, pa.schema([field]), "`db`.`t`").column(0).to_pylist() == [value]


def test_unknown_time_text_is_refused_not_nulled() -> None:
    field = MySQLColumn("c", "time", "time").field("`db`.`t`")
    raw = pa.record_batch([pa.array(["1 02:03:04"])], names=["c"])
    with pytest.raises(TerminalError, match="unrecognised TIME text '1 02:03:04'"):
        conform(raw, pa.schema([field]), "`db`.`t`")
