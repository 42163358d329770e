"""The scheduler: due hops start once, paused ones never, within a bound, under one lease."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import schema
from sluice.core.clock import utcnow
from sluice.engine.services import Services
from sluice.scheduler.daemon import InlineLauncher, Scheduler, SubprocessLauncher
from tests.conftest import CHINOOK_SQLITE, PROJECT, Sluice
from tests.processes import zombie_children

TABLES = ("Genre", "Artist", "MediaType")


@pytest.fixture
def configured(sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sluice]:
    monkeypatch.setenv("PYTHONPATH", f"{PROJECT}{os.pathsep}{PROJECT / 'src'}")
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(
        f'destination add wh --type sqlite --creds \'{{"path": "{workdir / "wh.db"}"}}\'', ok=True
    )
    for name in TABLES:
        sluice(f"table add {name} --source chinook --destination wh", ok=True)
    yield sluice


def runs(sluice: Sluice) -> list[dict[str, object]]:
    result: list[dict[str, object]] = sluice("runs --json --limit 100", ok=True).json()
    return result


def test_once_starts_every_due_hop_and_then_nothing(configured: Sluice) -> None:
    configured("table pause MediaType", ok=True)
    out = configured("scheduler --once --max-concurrent 4", ok=True).out
    assert "started 2 run(s)" in out  # hop 2 waits for a first successful hop 1
    first = runs(configured)
    assert {(r["source_tablename"], r["hop"]) for r in first} == {
        ("Genre", "source_to_dl"),
        ("Artist", "source_to_dl"),
    }
    assert {r["triggered_by"] for r in first} == {"schedule"}
    assert {r["status"] for r in first} == {"success"}
    assert "started 2 run(s)" in configured("scheduler --once", ok=True).out  # now hop 2
    assert {r["hop"] for r in runs(configured)[:2]} == {"dl_to_sink"}
    assert {r["status"] for r in runs(configured)} == {"success"}
    assert "started 0 run(s)" in configured("scheduler --once", ok=True).out  # 60 min not passed
    configured("table resume MediaType", ok=True)
    assert "started 1 run(s)" in configured("scheduler --once", ok=True).out


def test_a_new_interval_takes_effect_on_the_next_pass(
    configured: Sluice, services: Services
) -> None:
    configured("scheduler --once --max-concurrent 6", ok=True)
    configured("scheduler --once --max-concurrent 6", ok=True)
    with services.repo.tx() as c:  # the runs started 10 minutes ago
        c.execute(
            schema.pipeline_runs_master.update().values(started_at=utcnow() - timedelta(minutes=10))
        )
    assert "started 0 run(s)" in configured("scheduler --once", ok=True).out
    configured("table edit Genre --every 5", ok=True)
    assert "started 1 run(s)" in configured("scheduler --once", ok=True).out


def test_the_concurrency_bound_queues_the_rest(services: Services) -> None:
    launcher = SubprocessLauncher(services.config_url)
    scheduler = Scheduler(services, launcher, max_concurrent=1)
    report = scheduler.tick()
    assert len(report.started) == 1
    assert len(report.waiting) == 2  # the other tables' hop 1; hop 2 waits for a hop 1
    while launcher.running():
        time.sleep(0.1)


def test_two_schedulers_never_both_lead(services: Services) -> None:
    first = Scheduler(services, SubprocessLauncher(services.config_url), max_concurrent=0)
    second = Scheduler(services, SubprocessLauncher(services.config_url), max_concurrent=0)
    assert first.tick().leader is True
    assert second.tick().leader is False
    assert first.tick().leader is True  # renewal
    with services.repo.tx() as c:  # the first scheduler died: its lease runs out
        c.execute(schema.sluice_leases.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert second.tick().leader is True
    assert first.tick().leader is False
    with services.repo.tx() as c:
        holders = c.execute(sa.select(schema.sluice_leases.c.holder)).scalars().all()
    assert holders == [second.holder]


def test_sigterm_stops_cleanly_and_fails_what_was_cut_short(
    configured: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.slow_stages")
    monkeypatch.setenv("SLUICE_TEST_SLEEP", "60")
    configured("stages add --pipeline slow --order 1 --type test_sleep --name Sleep", ok=True)
    for name in TABLES:
        configured(f"table pause {name}", ok=True)
    configured("table resume Genre --hop source_to_dl", ok=True)
    configured("table edit Genre --pipeline slow", ok=True)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "sluice", "scheduler", "--tick", "0.5", "--grace", "1"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = runs(configured)
        if found and found[0]["status"] == "running":
            break
        time.sleep(0.2)
    else:
        daemon.kill()
        pytest.fail("the scheduler never started the run")
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "stopping: no new runs" in err
    assert "cut short" in err
    run = runs(configured)[0]
    assert run["status"] == "failed"
    assert "cut short: the scheduler stopped" in str(run["error_message"])
    assert configured("run Genre --hop source_to_dl --pipeline default").code == 0  # lock released


def test_status_shows_every_hop_with_its_next_due_time(configured: Sluice) -> None:
    configured("table pause Artist --hop dl_to_sink", ok=True)
    configured("run Genre", ok=True)
    rows = {(r["table"], r["hop"]): r for r in configured("status --json", ok=True).json()}
    assert len(rows) == 6
    genre = rows[("Genre", "source_to_dl")]
    assert genre["last_status"] == "success" and genre["state"] == "active"
    assert genre["next_due_at"] > genre["last_run_at"]
    assert rows[("Artist", "dl_to_sink")]["state"] == "paused"
    assert rows[("Artist", "dl_to_sink")]["next_due_at"] is None
    assert rows[("Artist", "source_to_dl")]["last_status"] is None
    assert "Genre" in configured("status", ok=True).out


def test_the_daemon_reaps_every_child_and_logs_each_run_end(
    configured: Sluice, workdir: Path
) -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-m", "sluice", "scheduler", "--tick", "0.5", "--max-concurrent", "3"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both hops of the three tables: six runs
            done = [r for r in runs(configured) if r["status"] in ("success", "failed")]
            if len(done) == 6:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"six runs did not finish: {runs(configured)}")
        status = configured("status", ok=True).out
        assert "scheduler running:" in status and "last pass" in status
        assert configured("status --json", ok=True).json()[0]["scheduler_running"] is True
        time.sleep(2.5)  # a few passes after the last run ended
        assert zombie_children(daemon.pid) == []
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    ended = [line for line in err.splitlines() if " ended: " in line]
    assert len(ended) == 6, err
    assert all(" success, " in line and " rows, " in line for line in ended), ended
    assert any("Genre source_to_dl success, 25 rows" in line for line in ended), ended
    after = configured("status", ok=True).out
    assert "no scheduler running" in after and "last pass" in after


def test_a_failing_run_ends_with_its_error_in_the_log(
    configured: Sluice, services: Services, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("Artist", "MediaType"):
        configured(f"table pause {name}", ok=True)
    empty = workdir / "empty.db"
    sqlite3.connect(empty).close()  # a source where the table is missing
    configured(f'source add empty --type sqlite --creds \'{{"path": "{empty}"}}\'', ok=True)
    configured("table edit Genre --source empty --no-check", ok=True)
    launcher = SubprocessLauncher(services.config_url)
    scheduler = Scheduler(services, launcher)
    with caplog.at_level("INFO", logger="sluice.scheduler"):
        started = scheduler.tick().started
        while launcher.running():
            time.sleep(0.1)
        assert scheduler.collect() == started
    [line] = [r.getMessage() for r in caplog.records if " ended: " in r.getMessage()]
    assert line.startswith(f"run {started[0]} ended: Genre source_to_dl failed, 0 rows, ")
    assert "Genre" in line and "\n" not in line


def test_status_says_when_no_scheduler_runs(configured: Sluice) -> None:
    out = configured("status", ok=True).out
    assert "no scheduler running" in out
    assert "due (no scheduler)" in out
    assert " now " not in out
    assert {r["scheduler_running"] for r in configured("status --json", ok=True).json()} == {False}


def test_hop_order_is_stored_per_table(configured: Sluice) -> None:
    assert configured("table show Genre --json", ok=True).json()["hop_order"] == "after"
    configured("table edit Genre --hop-order independent", ok=True)
    assert configured("table show Genre --json", ok=True).json()["hop_order"] == "independent"
    bad = configured("table edit Genre --hop-order sideways")
    assert bad.code != 0 and "hop order 'sideways' is not known" in bad.err
    assert len(bad.err.strip().splitlines()) == 1


def test_hop_two_follows_hop_one_in_one_pass_with_an_inline_launcher(
    configured: Sluice, services: Services
) -> None:
    scheduler = Scheduler(services, InlineLauncher(services), max_concurrent=6)
    first = scheduler.tick().started
    hops = [services.repo.get_run(i).hop for i in first]
    assert hops == ["source_to_dl"] * 3 + ["dl_to_sink"] * 3  # each hop 2 after its hop 1
    assert scheduler.tick().started == []  # nothing new until hop 1's next batch
