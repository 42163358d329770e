"""`sluice lake ls`, `sluice lake gc` and the automatic retention pass after loads."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Sluice


def test_full_snapshots_beyond_the_newest_three_are_removed_after_loads(
    configured: Sluice, workdir: Path
) -> None:
    for _ in range(5):
        configured("run Genre", ok=True)
    batches = configured("lake ls Genre --json", ok=True).json()
    assert [b["batch"] for b in batches] == [3, 4, 5]
    assert all(b["rows"] == 25 and b["bytes"] > 0 for b in batches)
    assert {b["run_id"] for b in batches} == {3, 4, 5}
    assert not (workdir / "lake/chinook/Genre/batch=00000001").exists()
    assert "Genre" in configured("lake ls Genre", ok=True).out


def test_gc_dry_run_then_removal(configured: Sluice, workdir: Path) -> None:
    configured("table edit Genre --sink-load incremental", ok=True)
    configured("run Genre", ok=True)
    for _ in range(4):
        configured("run Genre --hop source_to_dl", ok=True)  # never loaded by hop 2
    assert configured("lake gc Genre --dry-run --json", ok=True).json()[0]["removed"] == [1, 2]
    assert len(configured("lake ls Genre --json", ok=True).json()) == 5  # dry run kept all
    assert configured("lake gc --json", ok=True).json() == [
        {"table": "Genre", "removed": [1, 2], "dry_run": False}
    ]
    assert [b["batch"] for b in configured("lake ls Genre --json", ok=True).json()] == [3, 4, 5]
    configured("run Genre --hop dl_to_sink", ok=True)
