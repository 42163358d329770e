"""Column bounds in their canonical form, as the lake records and sinks report them."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from sluice.core.bounds import Bound, bounded, bounds_of, first_value, same, widest


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        ([3, None, -2**63], pa.int64(), (-2**63, 3)),
        ([2**64 - 1, 0], pa.uint64(), (0, 2**64 - 1)),
        ([1.5, -0.0, float("inf")], pa.float64(), (-0.0, float("inf"))),
        ([1.0, float("nan")], pa.float64(), None),  # NaN: engines order it differently
        ([None, None], pa.int32(), None),
        ([Decimal("10.00"), Decimal("9.50")], pa.decimal128(5, 2), ("9.50", "10.00")),
        ([-2_440_588, 0], pa.int32(), (-2_440_588, 0)),
    ],
)  # fmt: skip
def test_bounds_of(values: list[object], kind: pa.DataType, expected: object) -> None:
    assert bounds_of(pa.array(values, kind)) == expected


def test_dates_and_timestamps_are_days_and_microseconds_whatever_the_calendar() -> None:
    days = pa.array([-2_440_588, 2_145_042_905], pa.int32()).view(pa.date32())
    assert bounds_of(days) == (-2_440_588, 2_145_042_905)
    moments = pa.array([-210866803200000000, 5], pa.int64()).view(pa.timestamp("us", "UTC"))
    assert bounds_of(moments) == (-210866803200000000, 5)
    nanos = pa.array([1_000, 2_000_000], pa.int64()).view(pa.timestamp("ns"))
    assert bounds_of(nanos) == (1, 2_000)
    assert first_value(pa.chunked_array([moments.slice(0, 1)])) == -210866803200000000


@pytest.mark.parametrize(
    ("lake", "sink", "equal"),
    [
        ("1.50", "1.5", True),  # a database's decimal text
        (4294967295, "4294967295", True),  # an integer read back as text
        (4294967295, -1, False),  # the same bits read as signed
        ("25.00", "250.00", False),
        (1.5, 1.5, True),
        ("1.50", "abc", False),
    ],
)
def test_same(lake: Bound, sink: Bound, equal: bool) -> None:
    assert same(lake, sink) is equal


def test_widest_compares_decimals_by_value_not_text() -> None:
    assert widest(("9.50", "9.50"), ("10.00", "10.00")) == ("9.50", "10.00")
    assert widest((1, 5), (-3, 2)) == (-3, 5)


def test_bounded_kinds() -> None:
    assert all(bounded(k) for k in (pa.int8(), pa.float32(), pa.decimal128(3, 1), pa.date32()))
    assert not any(bounded(k) for k in (pa.string(), pa.bool_(), pa.binary(), pa.time64("us")))
