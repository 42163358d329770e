"""Fencing: a stage that outlives its reaped run changes nothing.

A run is stopped (SIGSTOP, heartbeat thread and all) at the moment before its change would
become visible, its heartbeat times out, the next run reaps it and runs in full; then the
stopped process is let go (SIGCONT). Whatever it would publish, load or record is refused:
the new run's result stands and the sink equals the source.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import PROJECT, Sluice

TIMEOUT = "2"  # seconds of heartbeat silence after which a run is dead


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src"), "SLUICE_HEARTBEAT_INTERVAL": "0.5"}
    env["SLUICE_HEARTBEAT_TIMEOUT"] = TIMEOUT
    env.pop("SLUICE_PAUSE_AT", None)
    env.pop("SLUICE_CRASH_AT", None)
    return {**env, **extra}


def _stopped(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def _paused_run(workdir: Path, point: str, *args: str) -> subprocess.Popen[str]:
    """`sluice run ARGS` stopped at `point`, once it got there."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sluice", "run", *args, "--json"],
        cwd=workdir,
        env=_env(SLUICE_PAUSE_AT=point),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not _stopped(process.pid):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.05)
    return process


@pytest.fixture(autouse=True)
def short_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs and listings in this process time out heartbeats as the paused child does."""
    for name, value in _env().items():
        if name.startswith("SLUICE_HEARTBEAT"):
            monkeypatch.setenv(name, value)


def _run(sluice: Sluice, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = sluice("run", *args, "--json").json()
    return result


def _let_go(process: subprocess.Popen[str]) -> tuple[int, str]:
    os.kill(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


def _source(workdir: Path, rows: range) -> Path:
    path = workdir / "src.sqlite"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, v TEXT)")
        c.executemany("INSERT INTO events VALUES (?, ?)", [(i, f"v{i}") for i in rows])
    return path


def _source_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as c:
        return sorted(c.execute("SELECT id, v FROM events").fetchall())


# Before the stage's own fence check, and after it, just before the Iceberg commit (whose
# compare-and-swap is fenced itself: lake/iceberg.py).
@pytest.mark.parametrize("point", ["lake:before_publish", "lake:before_iceberg_commit"])
def test_a_reaped_runs_hop_1_publishes_nothing(sluice: Sluice, workdir: Path, point: str) -> None:
    source = _source(workdir, range(10))
    sink = workdir / "wh.duckdb"
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps({"path": str(source)}), ok=True)
    sluice("destination add dst --type duckdb --creds", json.dumps({"path": str(sink)}), ok=True)
    sluice("table add events --source src --destination dst --primary-key id", ok=True)

    stale = _paused_run(workdir, point, "events", "--hop", "source_to_dl")
    _source(workdir, range(10, 15))  # the stale run read 10 rows; there are 15 now
    time.sleep(float(TIMEOUT) + 0.5)
    fresh = _run(sluice, "events")
    assert fresh["status"] == "success", fresh["error_message"]

    code, said = _let_go(stale)
    assert code == 1, said
    assert "fenced off: verify_lake: run" in said and "nothing it wrote was published" in said
    runs = sluice("runs --json", ok=True).json()
    [stale_run] = [r for r in runs if r["id"] != fresh["id"]]
    assert stale_run["status"] == "failed" and "abandoned" in stale_run["error_message"]
    # The lake holds the fresh run's batch only, and the sink what the source holds.
    batches = sluice("lake ls events --json", ok=True).json()
    assert [b["run_id"] for b in batches] == [fresh["id"]]
    with duckdb.connect(str(sink), read_only=True) as c:
        assert sorted(c.sql("SELECT id, v FROM events").fetchall()) == _source_rows(source)
    table = sluice("table show events --json", ok=True).json()
    assert table["source_to_dl"]["last_run_status"] == "success"
    assert table["dl_to_sink"]["last_run_status"] == "success"
    assert _run(sluice, "events")["status"] == "success"  # and nothing is left in the way


@pytest.mark.postgres
def test_a_reaped_runs_load_never_commits(sluice: Sluice, workdir: Path, pg_target: str) -> None:
    source = _source(workdir, range(10))
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps({"path": str(source)}), ok=True)
    sluice("destination add dst --type postgres --creds", json.dumps({"url": pg_target}), ok=True)
    sluice(
        "table add events --source src --destination dst --primary-key id --sink-load incremental",
        ok=True,
    )
    assert _run(sluice, "events")["status"] == "success"
    with sqlite3.connect(source) as c:
        c.execute("UPDATE events SET v = 'stale' WHERE id < 5")
    assert _run(sluice, "events", "--hop", "source_to_dl")["status"] == "success"

    # Stopped inside its sink transaction, the merge of 'stale' applied but not committed.
    stale = _paused_run(workdir, "load:inside_transaction", "events", "--hop", "dl_to_sink")
    with sqlite3.connect(source) as c:
        c.execute("UPDATE events SET v = 'fresh' WHERE id < 5")
    time.sleep(float(TIMEOUT) + 0.5)
    # A listing reaps the stale one (a run of its own hop would too); then a new run of hop 1,
    # which leaves the sink alone, so what the sink holds below is what the stale load did or
    # did not commit.
    listed = sluice("runs --json", ok=True).json()
    [reaped] = [r for r in listed if r["hop"] == "dl_to_sink"]
    assert reaped["status"] == "failed" and "abandoned" in reaped["error_message"]
    assert _run(sluice, "events", "--hop", "source_to_dl")["status"] == "success"
    code, said = _let_go(stale)
    assert code == 1, said
    assert "fenced off: load: run" in said and "no longer holds table 'events'" in said
    assert _sink_rows(pg_target) == [(i, f"v{i}") for i in range(10)]  # 'stale' never landed

    assert _run(sluice, "events")["status"] == "success"
    assert _sink_rows(pg_target) == _source_rows(source)
    assert [v for _, v in _sink_rows(pg_target)][:5] == ["fresh"] * 5


def _sink_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as c:
        return sorted(c.execute("SELECT id, v FROM events").fetchall())
