"""Tolerance and policy for keys in the future, as typed and as stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from sluice.core.errors import ConfigError, TerminalError
from sluice.core.future import FuturePolicy, check_policy, check_tolerance, tolerance_of
from sluice.stages.future_keys import FutureGuard, future_limit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"), [("0s", 0), ("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800)]
)
def test_tolerances(text: str, seconds: int) -> None:
    assert tolerance_of(check_tolerance(text)) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "1.5h", "-1h", "1w", "soon", "99999d"])
def test_bad_tolerances(text: str) -> None:
    with pytest.raises(ConfigError, match=r"future tolerance .* is not valid"):
        check_tolerance(text)


def test_policies() -> None:
    assert check_policy("hold") is FuturePolicy.HOLD
    with pytest.raises(ConfigError, match=r"future policy 'skip' .* is unknown"):
        check_policy("skip")


@pytest.mark.parametrize(
    ("key_type", "limit"),
    [
        (pa.timestamp("us"), datetime(2026, 1, 1, 13, 0)),  # no zone: read as UTC
        (pa.timestamp("us", tz="UTC"), datetime(2026, 1, 1, 13, 0, tzinfo=UTC)),
        (pa.date32(), date(2026, 1, 1)),
    ],
)
def test_the_limit_is_in_the_key_s_terms(key_type: pa.DataType, limit: object) -> None:
    assert future_limit(key_type, NOW, "1h") == limit


def guard(policy: str) -> FutureGuard:
    return FutureGuard(
        table="events",
        key="at",
        fallback=None,
        key_type=pa.timestamp("us"),
        primary_key=("id",),
        tolerance="1h",
        policy=policy,
        now=NOW,
    )


BATCH = pa.record_batch(
    {
        "id": [1, 2, 3],
        "at": pa.array(
            [datetime(2026, 1, 1, 12, 30), datetime(2027, 1, 1), datetime(2026, 1, 1, 13, 0)],
            type=pa.timestamp("us"),
        ),
    }
)


def test_fail_names_the_rows() -> None:
    with pytest.raises(TerminalError) as failed:
        guard("fail").apply(BATCH)
    assert str(failed.value).startswith(
        "incremental key 'at' of events is more than 1h ahead of the clock "
        "(2026-01-01T12:00:00+00:00) in 1 row(s) of a batch read, up to "
        "2027-01-01T00:00:00.000000 (id=2)"
    )


def test_hold_leaves_the_rows_out_and_says_so() -> None:
    held = guard("hold")
    assert held.apply(BATCH).column("id").to_pylist() == [1, 3]  # exactly at the limit: kept
    assert held.summary() == (
        "1 row(s) held back at 2026-01-01T12:00:00+00:00: keys up to "
        "2027-01-01T00:00:00.000000, more than 1h ahead"
    )
    with pytest.raises(TerminalError, match=r"the watermark of events .* is more than 1h ahead"):
        held.check_watermark(datetime(2026, 6, 1))
