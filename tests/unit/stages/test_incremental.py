"""Watermark logic: rows at the watermark are neither lost nor duplicated."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from sluice.core.errors import ConfigError, TerminalError
from sluice.core.watermark import format_value, lookback_floor, parse_value
from sluice.stages.incremental import HeldRows, IncrementalFilter, KeyTracker, check_compatible
from sluice.stages.row_identity import row_digests

SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us"))])
T1, T2, T3 = datetime(2025, 1, 1, 10), datetime(2025, 1, 1, 11), datetime(2025, 1, 1, 12)


def rows(*pairs: tuple[int, datetime | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([{"id": i, "ts": t} for i, t in pairs], schema=SCHEMA)


def ids(batch: pa.RecordBatch) -> list[int]:
    values: list[int] = batch.column("id").to_pylist()
    return values


def row_hashes(batch: pa.RecordBatch) -> list[bytes]:
    digests: list[bytes] = row_digests(batch).to_pylist()
    return digests


def held_of(batch: pa.RecordBatch) -> HeldRows:
    """A window holding exactly these rows (their keys and identities)."""
    return HeldRows(pa.table({"key": batch.column("ts"), "hash": row_digests(batch)}))


def keep(since: Any, held: HeldRows, batch: pa.RecordBatch, floor: Any = None) -> list[int]:
    return ids(IncrementalFilter("ts", since, floor, held).apply(batch))


def window_hashes(tracker: KeyTracker, since: Any, held: pa.Table | None = None) -> set[bytes]:
    return set(tracker.window(since, held, pa.timestamp("us")).column("hash").to_pylist())


def test_first_run_keeps_everything() -> None:
    assert keep(None, HeldRows(), rows((1, T1), (2, T2))) == [1, 2]


def test_rows_below_the_watermark_are_dropped_even_if_the_source_returns_them() -> None:
    assert keep(T2, HeldRows(), rows((1, T1), (2, T2), (3, T3))) == [2, 3]


def test_rows_at_the_watermark_already_held_are_dropped_new_ones_kept() -> None:
    tracker = KeyTracker("ts")
    tracker.update(rows((1, T1), (2, T2), (3, T2)))
    held = HeldRows(tracker.window(None, None, pa.timestamp("us")))
    assert tracker.watermark(None) == T2 and len(held) == 2
    later = rows((2, T2), (3, T2), (4, T2), (5, T3))
    assert keep(T2, held, later) == [4, 5]


def test_a_changed_row_at_the_watermark_is_a_new_version() -> None:
    held = held_of(rows((2, T2)))
    changed = pa.RecordBatch.from_pylist([{"id": 2, "ts": T2, "v": "x"}])
    assert ids(IncrementalFilter("ts", T2, None, held).apply(changed)) == [2]


def test_the_window_accumulates_while_the_watermark_stays() -> None:
    first = KeyTracker("ts")
    first.update(rows((1, T2)))
    held = first.window(None, None, pa.timestamp("us"))
    second = KeyTracker("ts")
    second.update(rows((2, T2)))
    assert window_hashes(second, T2, held) == set(row_hashes(rows((1, T2)))) | set(
        row_hashes(rows((2, T2)))
    )


def test_the_window_moves_with_the_watermark() -> None:
    tracker = KeyTracker("ts")
    tracker.update(rows((1, T2), (2, T3)))
    tracker.update(rows((3, T1)))
    assert tracker.min == T1 and tracker.max == T3
    assert window_hashes(tracker, T2) == set(row_hashes(rows((2, T3))))


def test_a_late_row_inside_the_lookback_window_is_caught_once() -> None:
    """A transaction that commits late with an older key value is read again and kept once."""
    tracker = KeyTracker("ts", lookback="2h")
    tracker.update(rows((1, T1), (2, T3)))
    held_window = tracker.window(None, None, pa.timestamp("us"))
    assert set(held_window.column("hash").to_pylist()) == set(row_hashes(rows((1, T1), (2, T3))))
    held = HeldRows(held_window)
    floor = datetime(2025, 1, 1, 10)  # T3 minus 2h
    late = rows((1, T1), (2, T3), (9, T2))  # 9 committed late with an older key
    assert keep(T3, held, late, floor=floor) == [9]
    assert keep(T3, held, rows((8, datetime(2025, 1, 1, 9))), floor=floor) == []


def test_the_watermark_never_moves_back() -> None:
    tracker = KeyTracker("ts", lookback="2h")
    tracker.update(rows((9, T2)))
    assert tracker.watermark(T3) == T3


def test_a_null_key_fails_with_a_clear_message() -> None:
    with pytest.raises(TerminalError, match="incremental key 'ts' is NULL in 1 row"):
        keep(None, HeldRows(), rows((1, T1), (2, None)))


def test_a_fallback_column_stands_in_for_a_null_key() -> None:
    batch = pa.RecordBatch.from_pylist(
        [{"id": 1, "ts": None, "created": T3}, {"id": 2, "ts": T1, "created": T3}]
    )
    assert ids(IncrementalFilter("ts", T2, None, HeldRows(), "created").apply(batch)) == [1]
    tracker = KeyTracker("ts", fallback="created")
    tracker.update(batch)
    assert (tracker.min, tracker.max) == (T1, T3)


@pytest.mark.parametrize(
    ("since", "lookback", "floor"),
    [
        (T3, "90m", datetime(2025, 1, 1, 10, 30)),
        (T3, "2h", T1),
        (T3, "30", datetime(2025, 1, 1, 11, 59, 30)),
        (date(2025, 1, 10), "1d", date(2025, 1, 9)),
        (100, "10", 90),
        (Decimal("5.5"), "0.5", Decimal("5.0")),
        (T3, None, T3),
    ],
)
def test_lookback_floor(since: Any, lookback: str | None, floor: Any) -> None:
    assert lookback_floor(since, lookback) == floor


def test_a_duration_on_a_numeric_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="is a duration but the incremental key is numeric"):
        lookback_floor(100, "15m")


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
