"""A sink connection the server drops under check_sink or verify_sink is retried like one
dropped under extract or load: the run completes, and when the sink stays away past the
last attempt the run fails with one line and a rerun verifies without loading again.

The stages are the real ones; tests/plugins/sink_connection_killer.py only has the real
PostgreSQL server terminate their connection (pg_terminate_backend) right after it opens.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import Sluice

pytestmark = pytest.mark.postgres

STAGES = [
    ("check_source", "Check source"),
    ("extract", "Extract"),
    ("verify_lake", "Verify lake"),
    ("test_check_sink_killed", "Check sink"),
    ("load", "Load"),
    ("test_verify_sink_killed", "Verify sink"),
]


@pytest.fixture
def kills(sluice: Sluice, workdir: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`events` (40 rows, SQLite) into PostgreSQL on the killing template; returns the
    folder of per-stage kill counters."""
    counters = workdir / "kills"
    counters.mkdir()
    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.sink_connection_killer")
    monkeypatch.setenv("SLUICE_TEST_KILLS_DIR", str(counters))
    monkeypatch.setenv("SLUICE_TEST_KILL_URL", pg_database)
    monkeypatch.setenv("SLUICE_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SLUICE_RETRY_BASE", "0.05")
    source = workdir / "events.db"
    with sqlite3.connect(source) as c:
        c.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT)")
        c.executemany("INSERT INTO events VALUES (?, ?)", [(i, f"v{i}") for i in range(1, 41)])
    sluice("init", ok=True)
    sluice(f'source add src --type sqlite --creds \'{{"path": "{source}"}}\'', ok=True)
    sluice(
        f"destination add wh --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True
    )
    for order, (kind, name) in enumerate(STAGES, start=1):
        sluice(
            f"stages add --pipeline killed --order {order} --type {kind} --name '{name}'",
            ok=True,
        )
    sluice(
        "table add events --source src --destination wh --primary-key id --pipeline killed", ok=True
    )
    return counters


def stages_of(sluice: Sluice, run_id: int) -> dict[str, dict[str, Any]]:
    shown = sluice(f"runs show {run_id} --json").json()
    return {s["stage_type"]: s for s in shown["stages"]}


def sink_rows(url: str) -> tuple[int, int]:
    """(rows in the sink table, batches its state records)."""
    with psycopg.connect(url) as c:
        rows = c.execute("SELECT count(*) FROM events").fetchone()
        held = c.execute("SELECT count(*) FROM _sluice_state").fetchone()
    assert rows is not None and held is not None
    return int(rows[0]), int(held[0])


def test_a_dropped_connection_in_check_sink_and_verify_sink_is_retried(
    sluice: Sluice, kills: Path, pg_database: str
) -> None:
    (kills / "test_check_sink_killed").write_text("1")
    (kills / "test_verify_sink_killed").write_text("2")
    result = sluice("run events --json")
    assert result.code == 0, result.err or result.out
    stages = stages_of(sluice, 1)
    assert stages["test_check_sink_killed"]["status"] == "success"
    assert stages["test_check_sink_killed"]["attempts"] == 2
    assert stages["test_verify_sink_killed"]["status"] == "success"
    assert stages["test_verify_sink_killed"]["attempts"] == 3
    assert stages["load"]["attempts"] == 1
    assert sink_rows(pg_database) == (40, 1)


def test_a_sink_away_past_the_last_attempt_fails_in_one_line_and_a_rerun_does_not_reload(
    sluice: Sluice, kills: Path, pg_database: str
) -> None:
    (kills / "test_verify_sink_killed").write_text("99")
    failed = sluice("run events")
    assert failed.code == 1
    [line] = failed.err.strip().splitlines()  # the error is one line, no traceback
    assert line.startswith("error: run 1 failed: test_verify_sink_killed: PostgreSQL")
    assert "gave up after 3 attempts" in line
    assert "terminating connection" in line
    assert sink_rows(pg_database) == (40, 1)  # the load had committed

    (kills / "test_verify_sink_killed").write_text("0")
    rerun = sluice("run events --hop dl_to_sink --json")
    assert rerun.code == 0, rerun.err or rerun.out
    stages = stages_of(sluice, 2)
    assert stages["load"]["rows_processed"] == 0  # the batch was already held: not loaded again
    assert stages["test_verify_sink_killed"]["status"] == "success"
    assert sink_rows(pg_database) == (40, 1)
