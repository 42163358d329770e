"""Watermark logic: rows at the watermark are neither lost nor duplicated."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from sluice.core.errors import ConfigError, TerminalError
from sluice.core.watermark import format_value, parse_value
from sluice.stages.incremental import IncrementalFilter, KeyTracker, check_compatible, row_hashes

SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us"))])
T1, T2, T3 = datetime(2025, 1, 1, 10), datetime(2025, 1, 1, 11), datetime(2025, 1, 1, 12)


def rows(*pairs: tuple[int, datetime | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([{"id": i, "ts": t} for i, t in pairs], schema=SCHEMA)


def ids(batch: pa.RecordBatch) -> list[int]:
    return batch.column("id").to_pylist()


def test_first_run_keeps_everything() -> None:
    assert ids(IncrementalFilter("ts", None, set()).apply(rows((1, T1), (2, T2)))) == [1, 2]


def test_rows_below_the_watermark_are_dropped_even_if_the_source_returns_them() -> None:
    assert ids(IncrementalFilter("ts", T2, set()).apply(rows((1, T1), (2, T2), (3, T3)))) == [2, 3]


def test_rows_at_the_watermark_already_held_are_dropped_new_ones_kept() -> None:
    first = rows((1, T1), (2, T2), (3, T2))
    tracker = KeyTracker("ts")
    tracker.update(first)
    held = set(tracker.boundary(None, set()))
    assert tracker.max == T2 and len(held) == 2
    later = rows((2, T2), (3, T2), (4, T2), (5, T3))
    assert ids(IncrementalFilter("ts", T2, held).apply(later)) == [4, 5]


def test_a_changed_row_at_the_watermark_is_a_new_version() -> None:
    held = set(row_hashes(rows((2, T2))))
    changed = pa.RecordBatch.from_pylist([{"id": 2, "ts": T2, "v": "x"}])
    assert ids(IncrementalFilter("ts", T2, held).apply(changed)) == [2]


def test_the_boundary_accumulates_while_the_watermark_stays() -> None:
    held = set(row_hashes(rows((1, T2))))
    tracker = KeyTracker("ts")
    tracker.update(rows((2, T2)))
    assert set(tracker.boundary(T2, held)) == held | set(row_hashes(rows((2, T2))))


def test_the_boundary_resets_when_the_watermark_moves() -> None:
    tracker = KeyTracker("ts")
    tracker.update(rows((1, T2), (2, T3)))
    tracker.update(rows((3, T1)))
    assert tracker.min == T1 and tracker.max == T3
    assert tracker.boundary(T2, {"old"}) == tuple(row_hashes(rows((2, T3))))


def test_a_null_key_fails_with_a_clear_message() -> None:
    with pytest.raises(TerminalError, match="incremental key 'ts' is NULL in 1 row"):
        IncrementalFilter("ts", None, set()).apply(rows((1, T1), (2, None)))


WATERMARKS: list[tuple[Any, pa.DataType, str]] = [
    (datetime(2025, 1, 2, 3, 4, 5, 6), pa.timestamp("us"), "2025-01-02T03:04:05.000006"),
    (datetime(2025, 1, 2, 3, 4, 5), pa.timestamp("us"), "2025-01-02T03:04:05.000000"),
    (date(2025, 1, 2), pa.date32(), "2025-01-02"),
    (42, pa.int64(), "42"),
    (Decimal("12345678901234567890.123"), pa.decimal128(38, 3), "12345678901234567890.123"),
    ("b'x", pa.string(), "b'x"),
]


@pytest.mark.parametrize(("value", "kind", "text"), WATERMARKS)
def test_watermarks_round_trip_exactly(value: Any, kind: pa.DataType, text: str) -> None:
    assert format_value(value) == text
    assert parse_value(text, kind) == value


def test_a_corrupt_stored_watermark_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="is not a valid int64 value"):
        parse_value("yesterday", pa.int64())


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        (pa.int32(), pa.int64(), True),
        (pa.int64(), pa.int32(), False),
        (pa.float32(), pa.float64(), True),
        (pa.string(), pa.large_string(), True),
        (pa.decimal128(10, 2), pa.decimal128(12, 2), True),
        (pa.decimal128(10, 2), pa.decimal128(10, 3), False),
        (pa.int64(), pa.string(), False),
        (pa.null(), pa.string(), True),
    ],
)
def test_type_changes(old: pa.DataType, new: pa.DataType, ok: bool) -> None:
    before, after = pa.schema([("c", old)]), pa.schema([("c", new), ("added", pa.int8())])
    if ok:
        check_compatible(before, after)
    else:
        with pytest.raises(
            TerminalError, match=re.escape(f"column 'c' changed type from {old} to {new}")
        ):
            check_compatible(before, after)
