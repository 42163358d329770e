"""The lake's physical types: every logical type round-trips exactly, and Iceberg takes the files.

One row per logical type the connectors produce: the values (edge values included), the
stored type. Each case is written as the lake writes it, read back as the reader does, and
registered in a real Iceberg table (pyiceberg's SQL catalog on SQLite) whose own scan must
give the stored values.
"""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.core.errors import TerminalError
from sluice.lake.physical import (
    INTERVAL_STRUCT,
    LAKE_TYPE_KEY,
    physical_schema,
    physical_type,
    to_logical,
    to_physical,
)

BIG = decimal.Decimal("1234567890123456789012345678901234567890.12345")
# Values as a list, or as an array where Python values cannot build one (nested extensions).
CASES: list[tuple[pa.DataType, Any, pa.DataType]] = [
    (pa.int64(), [1, None, -(2**63)], pa.int64()),
    (pa.uint8(), [0, 255, None], pa.int32()),
    (pa.uint16(), [0, 65535, None], pa.int32()),
    (pa.uint32(), [0, 2**32 - 1, None], pa.int64()),
    (pa.uint64(), [0, 2**64 - 1, None], pa.decimal128(20, 0)),
    (pa.float16(), [1.5, None, -0.0], pa.float32()),
    (pa.decimal128(38, 10), [decimal.Decimal("1.5000000000"), None], pa.decimal128(38, 10)),
    (pa.decimal256(60, 5), [BIG, -BIG, None], pa.string()),
    (pa.decimal256(20, 2), [decimal.Decimal("123456789012345678.90"), None], pa.decimal128(20, 2)),
    (pa.time64("ns"), [1, 86_399_999_999_999, None], pa.int64()),
    (pa.timestamp("ns"), [-1, 2**62, None], pa.int64()),
    (pa.timestamp("ms"), [1, None], pa.timestamp("us")),
    (pa.timestamp("us", "Europe/Paris"), [1, None], pa.timestamp("us", "UTC")),
    (pa.duration("us"), [-(2**40), 0, None], pa.int64()),
    (
        pa.month_day_nano_interval(),
        [pa.MonthDayNano([1, -2, 3]), None, pa.MonthDayNano([-(2**31), 2**31 - 1, -(2**63)])],
        INTERVAL_STRUCT,
    ),
    (pa.null(), [None, None], pa.string()),
    (pa.list_(pa.uint64()), [[2**64 - 1, None], None, []], pa.list_(pa.decimal128(20, 0))),
    (
        pa.large_list(pa.month_day_nano_interval()),
        [[pa.MonthDayNano([1, 2, 3]), None], None, []],
        pa.large_list(INTERVAL_STRUCT),
    ),
    (
        pa.struct([("a", pa.uint32()), ("b", pa.null())]),
        [{"a": 2**32 - 1, "b": None}, None],
        pa.struct([("a", pa.int64()), ("b", pa.string())]),
    ),
    (pa.date32(), [dt.date(1, 1, 1), None], pa.date32()),
    (pa.string(), ["a", None], pa.string()),
    (pa.json_(), ['{"a": 1}', None], pa.string()),
    (pa.uuid(), [b"0123456789abcdef", None], pa.binary(16)),
    (
        pa.list_(pa.json_()),
        pa.ListArray.from_arrays(
            pa.array([0, 2, 2], pa.int32()),
            pa.ExtensionArray.from_storage(pa.json_(), pa.array(['{"a": 1}', None])),
            mask=pa.array([False, True]),
        ),
        pa.list_(pa.string()),
    ),
]


def _rows(schema: pa.Schema, values: Any) -> pa.Table:
    ids = pa.array(range(len(values)), pa.int64())
    if not isinstance(values, pa.Array):
        values = pa.array(values, schema.field("c").type)
    return pa.Table.from_arrays([ids, values], schema=schema)


def _case_id(case: tuple[pa.DataType, Any, pa.DataType]) -> str:
    return str(case[0])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_each_type_round_trips_exactly(case: tuple[pa.DataType, Any, pa.DataType]) -> None:
    logical_type, values, stored_type = case
    assert physical_type(logical_type) == stored_type
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("c", logical_type)])
    rows = _rows(schema, values)
    stored = physical_schema(schema)
    written = to_physical(rows, stored)
    assert written.schema.field("c").type == stored_type
    if stored_type != logical_type:
        assert stored.field("c").metadata[LAKE_TYPE_KEY] == str(logical_type).encode()
    for batch in written.to_batches():
        back = to_logical(batch, schema)
        assert back.schema.equals(schema)
        assert back.column(1).equals(rows.column(1).combine_chunks())
    # A slice (an array with an offset) converts the same as a copy of its rows.
    sliced = rows.slice(1)
    back = to_logical(to_physical(sliced, stored).combine_chunks().to_batches()[0], schema)
    assert back.column(1).equals(sliced.column(1).combine_chunks())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_iceberg_takes_each_stored_type(
    case: tuple[pa.DataType, Any, pa.DataType], tmp_path: Path
) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    logical_type, values, _ = case
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("c", logical_type)])
    stored = physical_schema(schema)
    written = to_physical(_rows(schema, values), stored)
    part = tmp_path / "part-0.parquet"
    pq.write_table(written, part)
    catalog = SqlCatalog(
        "t", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=f"file://{tmp_path}"
    )
    catalog.create_namespace("src")
    table = catalog.create_table("src.t", schema=stored)
    table.add_files([f"file://{part}"])
    scanned = table.scan().to_arrow()
    assert scanned.num_rows == len(values)
    # Iceberg's own reading gives the stored values (its string may be a large_string).
    expected = written.column("c").to_pylist()
    if stored.field("c").type == pa.large_list(INTERVAL_STRUCT):
        # pyiceberg 0.12 reads a NULL list of structs as an empty list (Parquet and sluice
        # keep the NULL: test_each_type_round_trips_exactly).
        expected = [[] if value is None else value for value in expected]
    assert scanned.column("c").to_pylist() == expected


@pytest.mark.parametrize(
    "kind",
    [
        pa.list_(pa.uint64(), 2),
        pa.map_(pa.string(), pa.month_day_nano_interval()),
    ],
)
def test_a_type_with_no_exact_mapping_is_refused_naming_the_column(kind: pa.DataType) -> None:
    with pytest.raises(TerminalError, match=r"column 'tags' .* select it as text or JSON"):
        physical_schema(pa.schema([pa.field("tags", kind)]))
