"""`sluice run --dry-run` says what a run would read and load, and moves nothing: no run is
recorded, the lake and the sink stay as they were, and its plan is the one the run follows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import Sluice


def add_events(source: Path, first: int, count: int) -> None:
    with sqlite3.connect(source) as c:
        c.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [
                (i, f"v{i}", f"2025-01-01 10:{i // 60:02d}:{i % 60:02d}")
                for i in range(first, first + count)
            ],
        )


def test_a_dry_run_says_what_would_move_and_moves_nothing(sluice: Sluice, workdir: Path) -> None:
    source = workdir / "src.db"
    with sqlite3.connect(source) as c:
        c.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT, at DATETIME NOT NULL)")
    add_events(source, 1, 40)
    sluice("init", ok=True)
    sluice(f'source add src --type sqlite --creds \'{{"path": "{source}"}}\'', ok=True)
    sink = workdir / "wh.duckdb"
    sluice(f'destination add wh --type duckdb --creds \'{{"path": "{sink}"}}\'', ok=True)
    sluice(
        "table add events --source src --destination wh --primary-key id --load incremental "
        "--key at --sink-load incremental",
        ok=True,
    )

    first = sluice("run events --dry-run", ok=True).out.splitlines()
    assert first == [
        "hop 1 (source_to_dl): src events holds 40 rows, 3 columns",
        "  would read every row (first incremental read on 'at')",
        "hop 2 (dl_to_sink): events in wh: the lake holds no committed batch yet; hop 1 must "
        "run first",
    ]
    assert sluice("runs --json", ok=True).json() == []
    assert sluice("lake ls events --json", ok=True).json() == []
    assert not sink.exists()

    sluice("run events --hop source_to_dl", ok=True)
    add_events(source, 41, 5)
    planned = sluice("run events --dry-run --json", ok=True).json()["dry_run"]
    assert planned == [
        "hop 1 (source_to_dl): src events holds 45 rows, 3 columns",
        "  would read rows with at >= 2025-01-01T10:00:40.000000 (incremental; rows already "
        "in the lake are skipped)",
        "hop 2 (dl_to_sink): events in wh: would load lake batch(es) 1, 40 rows, as a merge "
        "(deduplicated on the key)",
    ]
    assert len(sluice("runs --json", ok=True).json()) == 1

    sluice("run events --hop dl_to_sink", ok=True)
    shown = sluice("run events --dry-run --hop dl_to_sink", ok=True).out
    assert "up to date" in shown and "would load nothing" in shown
    assert sluice("run events --dry-run --hop sink").code == 2
