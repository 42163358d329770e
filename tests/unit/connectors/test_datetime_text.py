"""Dates and timestamps spelled for sinks that take text: a table per spelling."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sluice.connectors.datetime_text import datetime_text
from sluice.connectors.postgres.writing import POSTGRES_SPELLING
from sluice.connectors.sqlite.sink import SQLITE_SPELLING
from sluice.core.infinity import DATE_INFINITY, TIMESTAMP_INFINITY

DAY = 86_400_000_000
# (microseconds since 1970, PostgreSQL's spelling, SQLite's spelling)
TIMESTAMPS = [
    (TIMESTAMP_INFINITY, "infinity", "infinity"),
    (-TIMESTAMP_INFINITY, "-infinity", "-infinity"),
    (1_234_567, "1970-01-01 00:00:01.234567", "1970-01-01T00:00:01.234567"),
    (-2_440_588 * DAY, "4714-11-24 00:00:00.000000 BC", "-4713-11-24T00:00:00.000000"),
    (-719_162 * DAY - 1, "0001-12-31 23:59:59.999999 BC", "0000-12-31T23:59:59.999999"),
    (-719_162 * DAY, "0001-01-01 00:00:00.000000", "0001-01-01T00:00:00.000000"),
    (2_932_897 * DAY, "10000-01-01 00:00:00.000000", "10000-01-01T00:00:00.000000"),
    (2_932_897 * DAY - 1, "9999-12-31 23:59:59.999999", "9999-12-31T23:59:59.999999"),
]
DATES = [
    (DATE_INFINITY, "infinity", "infinity"),
    (-DATE_INFINITY, "-infinity", "-infinity"),
    (0, "1970-01-01", "1970-01-01"),
    (-2_440_588, "4714-11-24 BC", "-4713-11-24"),
    (-735160, "0044-03-15 BC", "-0043-03-15"),
    (2_145_042_905, "5874897-12-31", "5874897-12-31"),
]


@pytest.mark.parametrize(("value", "postgres", "sqlite"), TIMESTAMPS)
def test_timestamps(value: int, postgres: str, sqlite: str) -> None:
    values = pa.array([value, None], pa.int64()).view(pa.timestamp("us"))
    assert datetime_text(values, POSTGRES_SPELLING).to_pylist() == [postgres, None]
    assert datetime_text(values, SQLITE_SPELLING).to_pylist() == [sqlite, None]


@pytest.mark.parametrize(("value", "postgres", "sqlite"), TIMESTAMPS)
def test_timestamps_with_a_time_zone(value: int, postgres: str, sqlite: str) -> None:
    values = pa.array([value], pa.int64()).view(pa.timestamp("us", tz="UTC"))
    [spelled] = datetime_text(values, POSTGRES_SPELLING).to_pylist()
    if "infinity" in postgres:
        assert spelled == postgres
    else:  # the zone goes before the era, as PostgreSQL prints it
        assert spelled == postgres.replace(" BC", "") + "+00" + (" BC" if "BC" in postgres else "")
    assert datetime_text(values, SQLITE_SPELLING).to_pylist() == [sqlite]


@pytest.mark.parametrize(("value", "postgres", "sqlite"), DATES)
def test_dates(value: int, postgres: str, sqlite: str) -> None:
    values = pa.array([value, None], pa.int32()).view(pa.date32())
    assert datetime_text(values, POSTGRES_SPELLING).to_pylist() == [postgres, None]
    assert datetime_text(values, SQLITE_SPELLING).to_pylist() == [sqlite, None]
