"""When a hop is due: the scheduler's rules as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sluice.config.records import HopConfig, TableConfig
from sluice.core.models import Hop, LoadType
from sluice.scheduler.due import HopState, due_hops

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def table(name: str, every: int | None = 60, active: bool = True) -> TableConfig:
    hop = HopConfig(every, LoadType.FULL, active, None, None, None, None)
    return TableConfig(name, name, "sqlite", "duckdb", "s", "d", (), "default", hop, hop)


def state(
    name: str, ago: float | None, *, every: int | None = 60, active: bool = True, busy: bool = False
) -> HopState:
    started = None if ago is None else NOW - timedelta(minutes=ago)
    return HopState(table(name, every, active), Hop.SOURCE_TO_DL, started, busy)


@pytest.mark.parametrize(
    ("label", "hop", "due"),
    [
        ("never ran", state("t", None), True),
        ("interval passed", state("t", 61), True),
        ("exactly the interval", state("t", 60), True),
        ("interval not passed", state("t", 59), False),
        ("paused", state("t", 600, active=False), False),
        ("no schedule", state("t", 600, every=None), False),
        ("still running", state("t", 600, busy=True), False),
        # Stored around the validation: past year 9999, never due, and no error for the rest.
        ("interval beyond dates", state("t", 600, every=5_000_000_000), False),
    ],
)
def test_due(label: str, hop: HopState, due: bool) -> None:
    assert bool(due_hops([hop], NOW)) is due, label


def test_hop_two_waits_for_the_first_successful_hop_one() -> None:
    waiting = HopState(table("t"), Hop.DL_TO_SINK, None, False)
    assert due_hops([waiting], NOW) == []
    fed = table("t")
    fed = TableConfig(
        **{
            **fed.__dict__,
            "source_to_dl": HopConfig(60, LoadType.FULL, True, None, None, NOW, "success"),
        }
    )
    assert len(due_hops([HopState(fed, Hop.DL_TO_SINK, None, False)], NOW)) == 1


def test_a_day_of_missed_intervals_gives_one_run() -> None:
    assert len(due_hops([state("t", 24 * 60, every=5)], NOW)) == 1


def test_longest_overdue_first_and_never_run_before_all() -> None:
    order = due_hops([state("a", 70), state("b", 300), state("c", None), state("d", 61)], NOW)
    assert [d.table for d in order] == ["c", "b", "a", "d"]
