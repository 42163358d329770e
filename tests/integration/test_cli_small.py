"""Small CLI behaviours: durations for intervals, one-line --hop errors, readable table show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHINOOK_SQLITE, Sluice


@pytest.fixture
def configured(sluice: Sluice, workdir: Path) -> Iterator[Sluice]:
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(
        f'destination add wh --type sqlite --creds \'{{"path": "{workdir / "wh.db"}"}}\'', ok=True
    )
    yield sluice


@pytest.mark.parametrize(
    ("every", "sink_every", "minutes", "sink_minutes"),
    [("15m", "1h", 15, 60), ("1d", "90", 1440, 90), ("2H", "45M", 120, 45)],
)
def test_intervals_take_durations(
    configured: Sluice, every: str, sink_every: str, minutes: int, sink_minutes: int
) -> None:
    configured(
        f"table add Genre --source chinook --destination wh --every {every} "
        f"--sink-every {sink_every}",
        ok=True,
    )
    shown = configured("table show Genre --json", ok=True).json()
    assert shown["source_to_dl"]["schedule_minutes"] == minutes
    assert shown["dl_to_sink"]["schedule_minutes"] == sink_minutes


@pytest.mark.parametrize("bad", ["1w", "h", "1.5h", "soon"])
def test_a_bad_interval_is_one_line(configured: Sluice, bad: str) -> None:
    result = configured(f"table add Genre --source chinook --destination wh --every {bad}")
    assert result.code != 0
    assert result.err.strip() == (
        f"error: schedule {bad!r} (--every) is not an interval: give minutes (60) or a "
        "duration such as 15m, 1h or 1d"
    )


@pytest.mark.parametrize("command", ["run Genre --hop sink", "table pause Genre --hop sink"])
def test_a_bad_hop_is_one_line(configured: Sluice, command: str) -> None:
    configured("table add Genre --source chinook --destination wh", ok=True)
    result = configured(command)
    assert result.code == 2  # a usage error
    assert result.err.strip() == (
        "error: hop 'sink' is not known (--hop): use one of source_to_dl, dl_to_sink, all"
    )


def test_table_show_prints_readable_values(configured: Sluice) -> None:
    configured("table add Genre --source chinook --destination wh --primary-key GenreId", ok=True)
    out = configured("table show Genre", ok=True).out
    assert "{" not in out and "None" not in out and "[" not in out
    assert "source_to_dl:\n  schedule_minutes: 60" in out
    assert "primary_key: GenreId" in out
    assert "  is_active: yes" in out


def test_runs_json_gives_time_taken_as_a_number(configured: Sluice) -> None:
    configured("table add Genre --source chinook --destination wh", ok=True)
    configured("run Genre", ok=True)
    shown = configured("runs show 1 --json", ok=True).json()
    assert all(isinstance(stage["time_taken"], float) for stage in shown["stages"])
