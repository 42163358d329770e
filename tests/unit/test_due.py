"""When a hop is due: the scheduler's rules as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sluice.config.records import HopConfig, TableConfig
from sluice.core.models import Hop, LoadType
from sluice.scheduler.due import HopState, due_hops, hop_states

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


def pair(
    *,
    hop1_ago: float | None,
    hop1_busy: bool = False,
    hop1_success_ago: float | None,
    hop2_ago: float | None,
    hop2_status: str | None = "success",
    order: str = "after",
    hop1_active: bool = True,
) -> list[HopState]:
    """A table's two hops, every 60 minutes: when each last started and hop 1 last succeeded."""

    def ago(minutes: float | None) -> datetime | None:
        return None if minutes is None else NOW - timedelta(minutes=minutes)

    first = HopConfig(
        60, LoadType.FULL, hop1_active, None, None, ago(hop1_success_ago),
        None if hop1_success_ago is None else "success",
    )  # fmt: skip
    second = HopConfig(60, LoadType.FULL, True, None, None, ago(hop2_ago), hop2_status)
    config = TableConfig(
        "t", "t", "sqlite", "duckdb", "s", "d", (), "default", first, second, hop_order=order
    )
    started = {("t", Hop.SOURCE_TO_DL): ago(hop1_ago), ("t", Hop.DL_TO_SINK): ago(hop2_ago)}
    locked = {("t", Hop.SOURCE_TO_DL)} if hop1_busy else set()
    return hop_states(config, {k: v for k, v in started.items() if v is not None}, locked)


def due_of(states: list[HopState]) -> set[str]:
    return {d.hop.value for d in due_hops(states, NOW)}


@pytest.mark.parametrize(
    ("label", "states", "due"),
    [
        (
            "hop 1 running: hop 2 waits though its interval passed",
            pair(hop1_ago=1, hop1_busy=True, hop1_success_ago=61, hop2_ago=61),
            set(),
        ),
        (
            "hop 1 published since hop 2 started: hop 2 due at once",
            pair(hop1_ago=2, hop1_success_ago=1, hop2_ago=61),
            {"dl_to_sink"},
        ),
        (
            "hop 1 published but hop 2's interval has not passed: the interval bounds how often",
            pair(hop1_ago=2, hop1_success_ago=1, hop2_ago=30),
            set(),
        ),
        (
            "nothing new since hop 2 loaded: hop 2 waits for hop 1's next batch",
            pair(hop1_ago=50, hop1_success_ago=49, hop2_ago=61 - 12),
            set(),
        ),
        (
            "hop 1 last published before hop 2 started: nothing new to load",
            pair(hop1_ago=59, hop1_success_ago=58, hop2_ago=57),
            set(),
        ),
        (
            "both due in one pass: hop 1 now, hop 2 after its batch",
            pair(hop1_ago=61, hop1_success_ago=60, hop2_ago=70),
            {"source_to_dl"},
        ),
        (
            "hop 2 failed last time: retried by its interval",
            pair(hop1_ago=30, hop1_success_ago=29, hop2_ago=61, hop2_status="failed"),
            {"dl_to_sink"},
        ),
        (
            "hop 1 paused: hop 2 goes by its interval alone",
            pair(hop1_ago=600, hop1_success_ago=599, hop2_ago=61, hop1_active=False),
            {"dl_to_sink"},
        ),
        (
            "independent: hop 2 starts beside a running hop 1, as before",
            pair(hop1_ago=1, hop1_busy=True, hop1_success_ago=61, hop2_ago=61, order="independent"),
            {"dl_to_sink"},
        ),
        (
            "independent: both due in one pass start together",
            pair(hop1_ago=61, hop1_success_ago=60, hop2_ago=70, order="independent"),
            {"source_to_dl", "dl_to_sink"},
        ),
    ],
)
def test_hop_order(label: str, states: list[HopState], due: set[str]) -> None:
    assert due_of(states) == due, label


def test_a_waiting_hop_two_is_shown_due_with_hop_ones_next_run() -> None:
    _, second = pair(hop1_ago=50, hop1_success_ago=49, hop2_ago=48)
    assert second.next_due(NOW) == NOW + timedelta(minutes=12)  # hop 1's next start
