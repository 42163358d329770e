"""Runs over the REST API: start (202, in a child process), 409 and 404, listing, stats, metrics."""

from __future__ import annotations

import errno
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sluice.api import create_app
from sluice.core.models import RunStatus
from sluice.scheduler.liveness import LEASE
from tests.integration.api_support import (
    Api,
    HeldLauncher,
    api_fixture,
    chinook_fixture,
    held_api_fixture,
    held_fixture,
    insert_run,
    open_api,
)
from tests.integration.sinks import read_sink

__all__ = ["api_fixture", "chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures

DEFAULT_STAGES = ["check_source", "extract", "verify_lake", "check_sink", "load", "verify_sink"]


def wait_for(api: Api, run_id: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = api.call("GET", f"/api/runs/{run_id}").json()
        if run["status"] in ("success", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_a_triggered_run_executes_in_the_background(api: Api, workdir: Path) -> None:
    started = time.monotonic()
    response = api.call("POST", "/api/tables/Genre/runs", json={"hop": "all"})
    assert time.monotonic() - started < 5  # answered before the run finished
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    assert response.headers["location"] == f"/api/runs/{run_id}"
    assert response.json()["status"] == "pending"

    run = wait_for(api, run_id)
    assert run["status"] == "success", run["error_message"]
    assert run["triggered_by"] == "api" and run["hop"] == "all"
    assert [s["stage_type"] for s in run["stages"]] == DEFAULT_STAGES
    assert {s["status"] for s in run["stages"]} == {"success"}
    assert run["stages"][1]["rows_processed"] == 25
    assert run["stages"][1]["file_paths"][0].endswith(".parquet")
    assert run["duration_seconds"] > 0
    assert read_sink("duckdb", workdir / "wh.duckdb", "Genre").num_rows == 25

    table = api.call("GET", "/api/tables/Genre").json()
    for hop in ("source_to_dl", "dl_to_sink"):
        assert table[hop]["last_run_status"] == "success"
        assert table[hop]["last_success_at"] is not None
        assert table[hop]["state"] == "active"
    # One hop alone, the other way of asking.
    second = api.call("POST", "/api/tables/Genre/runs", json={"hop": "dl_to_sink"}).json()
    assert wait_for(api, second["run_id"])["status"] == "success"
    assert [s["stage_type"] for s in wait_for(api, second["run_id"])["stages"]] == DEFAULT_STAGES[
        3:
    ]


def test_a_busy_hop_is_409_with_the_active_run(held_api: Api, held: HeldLauncher) -> None:
    first = held_api.call("POST", "/api/tables/Genre/runs").json()["run_id"]
    assert held.started == [first]
    for hop in ("all", "source_to_dl", "dl_to_sink"):
        refused = held_api.call("POST", "/api/tables/Genre/runs", json={"hop": hop})
        assert refused.status_code == 409
        assert refused.json()["active_run_id"] == first
        assert f"already being run by run {first}" in refused.json()["detail"]
    assert held.started == [first]
    table = held_api.call("GET", "/api/tables/Genre").json()
    assert table["source_to_dl"]["state"] == "running"


def test_unknown_tables_and_runs_are_404(held_api: Api) -> None:
    missing = held_api.call("POST", "/api/tables/Nope/runs", json={"hop": "all"})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no table 'Nope' is configured: see `sluice table list`"}
    assert held_api.call("GET", "/api/runs/12345").status_code == 404
    assert held_api.call("GET", "/api/stats?table=Nope").status_code == 404


def _history(chinook: Any) -> dict[str, list[int]]:
    """Runs of two tables over four days, with known triggers and outcomes."""
    chinook("table add Album --source chinook --destination wh", ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    made: dict[str, list[int]] = {"all": []}
    for day in range(4):
        for n, (table, status, trigger) in enumerate(
            [
                ("Genre", "success", "schedule"),
                ("Album", "success", "api"),
                ("Genre", "failed", "manual"),
            ]
        ):
            at = now - timedelta(days=3 - day, hours=1, minutes=n)
            run_id = insert_run(table=table, status=status, started=at, triggered_by=trigger)
            made["all"].append(run_id)
            made.setdefault(f"day{day}", []).append(run_id)
            made.setdefault(table, []).append(run_id)
            made.setdefault(status, []).append(run_id)
            made.setdefault(trigger, []).append(run_id)
    return made


def test_runs_are_filtered_and_paginated(held_api: Api, chinook: Any) -> None:
    made = _history(chinook)
    newest_first = sorted(made["all"], reverse=True)

    def ids(query: str) -> list[int]:
        page = held_api.call("GET", f"/api/runs?{query}")
        assert page.status_code == 200, page.text
        return [r["id"] for r in page.json()["items"]]

    assert ids("limit=100") == newest_first
    assert ids("table=Album") == sorted(made["Album"], reverse=True)
    assert ids("status=failed") == sorted(made["failed"], reverse=True)
    assert ids("triggered_by=api") == sorted(made["api"], reverse=True)
    assert ids("table=Genre&status=success") == sorted(
        set(made["Genre"]) & set(made["success"]), reverse=True
    )
    assert ids("hop=source_to_dl") == []
    # since/until bound the start time: the last two days, then the two before.
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    recent = sorted(made["day2"] + made["day3"], reverse=True)
    assert ids(f"since={two_days_ago.replace('+', '%2B')}") == recent
    assert ids(f"until={two_days_ago.replace('+', '%2B')}") == sorted(
        made["day0"] + made["day1"], reverse=True
    )

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = "limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = held_api.call("GET", f"/api/runs?{query}").json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first and pages == 3  # 12 runs: 5 + 5 + 2

    bad = held_api.call("GET", "/api/runs?cursor=abc")
    assert bad.status_code == 422 and "cursor 'abc' is not valid" in bad.json()["detail"]
    assert held_api.call("GET", "/api/runs?status=sideways").status_code == 422
    assert held_api.call("GET", "/api/runs?limit=0").status_code == 422


def test_listed_runs_carry_their_stages(held_api: Api, chinook: Any) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    stages = (("extract", "success", 10, 1.5), ("load", "failed", 0, 0.5))
    run_id = insert_run(table="Genre", status="failed", started=at, stages=stages)
    item = held_api.call("GET", "/api/runs").json()["items"][0]
    assert item["id"] == run_id
    assert [(s["stage_type"], s["status"], s["rows_processed"]) for s in item["stages"]] == [
        ("extract", "success", 10),
        ("load", "failed", 0),
    ]
    assert item["stages"][0]["time_taken"] == 1.5
    assert item["duration_seconds"] == 60.0


def test_stats_on_a_known_history(held_api: Api, chinook: Any) -> None:
    chinook("table add Album --source chinook --destination wh", ok=True)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ok = (("extract", "success", 100, 2.0), ("load", "success", 100, 4.0))
    # Today: Genre loads 100 + 50 rows, Album 7; one failed run; yesterday: Genre 30.
    insert_run(table="Genre", status="success", started=today + timedelta(minutes=1), stages=ok)
    half = (("extract", "success", 50, 1.0), ("load", "success", 50, 2.0))
    insert_run(table="Genre", status="success", started=today + timedelta(minutes=2), stages=half)
    album = (("extract", "success", 7, 1.0), ("load", "success", 7, 6.0))
    insert_run(table="Album", status="success", started=today + timedelta(minutes=3), stages=album)
    failing = (("extract", "success", 9, 2.0), ("load", "failed", 0, 3.0))
    insert_run(table="Genre", status="failed", started=today + timedelta(minutes=4), stages=failing)
    earlier = (("extract", "success", 30, 1.0), ("load", "success", 30, 1.0))
    yesterday = today - timedelta(hours=12)
    insert_run(table="Genre", status="success", started=yesterday, stages=earlier)
    # Outside a 2-day window, and a run not started yet.
    insert_run(table="Genre", status="success", started=today - timedelta(days=5), stages=ok)
    insert_run(table="Album", status="pending", started=today)

    stats = held_api.call("GET", "/api/stats?days=2").json()
    assert stats["since"].startswith((today - timedelta(days=1)).date().isoformat())
    assert stats["runs_by_status"] == {"pending": 1, "running": 0, "success": 4, "failed": 1}
    assert stats["success_rate"] == 0.8
    assert [(d["day"], d["success"], d["failed"]) for d in stats["runs_per_day"]] == [
        ((today - timedelta(days=1)).date().isoformat(), 1, 0),
        (today.date().isoformat(), 3, 1),
    ]
    rows = {(r["table"], r["day"]): r["rows"] for r in stats["rows_loaded_per_day"]}
    assert rows == {
        ("Genre", (today - timedelta(days=1)).date().isoformat()): 30,
        ("Genre", today.date().isoformat()): 150,
        ("Album", today.date().isoformat()): 7,
    }
    durations = {d["stage_type"]: d for d in stats["stage_durations"]}
    assert set(durations) == {"extract", "load"}
    assert durations["load"]["count"] == 5
    assert durations["load"]["mean_seconds"] == (4.0 + 2.0 + 6.0 + 3.0 + 1.0) / 5
    assert durations["load"]["max_seconds"] == 6.0

    genre = held_api.call("GET", "/api/stats?days=2&table=Genre").json()
    assert genre["runs_by_status"] == {"pending": 0, "running": 0, "success": 3, "failed": 1}
    assert {r["table"] for r in genre["rows_loaded_per_day"]} == {"Genre"}
    week = held_api.call("GET", "/api/stats").json()  # 7 days by default
    assert len(week["runs_per_day"]) == 7 and week["runs_by_status"]["success"] == 5
    assert held_api.call("GET", "/api/stats?days=91").status_code == 422


def _metrics(api: Api) -> dict[str, float]:
    response = api.call("GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_count_runs_rows_durations_and_last_successes(held_api: Api, chinook: Any) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    ok = (("extract", "success", 100, 2.0), ("load", "success", 90, 4.0))
    insert_run(table="Genre", status="success", started=at, stages=ok)
    insert_run(table="Genre", status="failed", started=at, stages=(("extract", "failed", 0, 1.0),))
    before = _metrics(held_api)
    assert before['sluice_runs{status="success"}'] == 1
    assert before['sluice_runs{status="failed"}'] == 1
    assert before['sluice_rows_moved_total{hop="source_to_dl",table="Genre"}'] == 100
    assert before['sluice_rows_moved_total{hop="dl_to_sink",table="Genre"}'] == 90
    assert before['sluice_stage_duration_seconds_count{stage_type="extract"}'] == 2
    assert before['sluice_stage_duration_seconds_sum{stage_type="extract"}'] == 3.0
    last = before['sluice_last_success_timestamp_seconds{hop="source_to_dl",table="Genre"}']
    assert last == (at + timedelta(seconds=60)).timestamp()

    # A run that is still going, then finishes: counted once, when it has finished.
    repo = held_api.services.repo
    running = insert_run(
        table="Genre",
        status="running",
        started=datetime.now(UTC),
        stages=(("extract", "running", 0, 0.0),),
    )
    during = _metrics(held_api)
    assert during['sluice_runs{status="running"}'] == 1
    assert during['sluice_rows_moved_total{hop="source_to_dl",table="Genre"}'] == 100
    log_id = repo.stage_logs(running)[0].id
    repo.finish_stage_log(log_id, status="success", rows_processed=40, time_taken="5.000")
    repo.finish_run(running, RunStatus.SUCCESS, None)
    after = _metrics(held_api)
    assert after['sluice_rows_moved_total{hop="source_to_dl",table="Genre"}'] == 140
    assert after['sluice_stage_duration_seconds_count{stage_type="extract"}'] == 3
    assert after['sluice_stage_duration_seconds_sum{stage_type="extract"}'] == 8.0
    assert after['sluice_runs{status="success"}'] == 2
    assert after['sluice_runs{status="running"}'] == 0
    # A process that starts now (its first scrape sums the database) agrees.
    with TestClient(create_app(held_api.services)) as fresh:
        text = fresh.get("/metrics", headers=held_api.admin).text
    assert 'sluice_rows_moved_total{hop="source_to_dl",table="Genre"} 140.0' in text
    assert 'sluice_stage_duration_seconds_sum{stage_type="extract"} 8.0' in text


class BrokenLauncher(HeldLauncher):
    """Cannot start a process, as when the machine is out of file descriptors."""

    def start(self, run_id: int) -> None:
        raise OSError(errno.EMFILE, "Too many open files")


def test_a_run_whose_process_cannot_start_fails_at_once(chinook: Any) -> None:
    for broken in open_api(chinook, BrokenLauncher()):
        refused = broken.call("POST", "/api/tables/Genre/runs")
        assert refused.status_code == 503
        assert "its process could not be started: Too many open files" in refused.json()["detail"]
        run = broken.call("GET", "/api/runs/1").json()
        assert run["status"] == "failed" and "Too many open files" in run["error_message"]
        # The lock went with it: the hop is free again at once.
        assert broken.call("POST", "/api/tables/Genre/runs").status_code == 503
        assert broken.call("GET", "/api/runs/2").json()["status"] == "failed"


def test_scheduler_liveness_is_the_lease(held_api: Api) -> None:
    nobody = held_api.call("GET", "/api/scheduler")
    assert nobody.status_code == 200
    assert nobody.json() == {
        "running": False,
        "holder": None,
        "lease_expires_at": None,
        "last_pass_at": None,
        "last_pass_age_seconds": None,
    }
    repo = held_api.services.repo
    assert repo.take_lease(LEASE, "host:1:abc", timedelta(seconds=60))
    repo.mark_pass(LEASE, "host:1:abc")
    alive = held_api.call("GET", "/api/scheduler").json()
    assert alive["running"] is True and alive["holder"] == "host:1:abc"
    assert 0 <= alive["last_pass_age_seconds"] < 5
    repo.drop_lease(LEASE, "host:1:abc")
    gone = held_api.call("GET", "/api/scheduler").json()
    assert gone["running"] is False and gone["last_pass_at"] == alive["last_pass_at"]


def test_a_hop_that_missed_twice_its_schedule_is_stale_everywhere(
    held_api: Api, chinook: Any
) -> None:
    """Hop 1 every 30 minutes, last success 2 hours ago: stale (target 1 hour) in the table
    view, /metrics and `sluice status`; hop 2, paused, has no target."""
    chinook("table edit Genre --every 30m", ok=True)
    chinook("table pause Genre --hop dl_to_sink", ok=True)
    ok = (("extract", "success", 10, 1.0), ("load", "success", 10, 1.0))
    insert_run(table="Genre", status="success", started=datetime.now(UTC) - timedelta(hours=2),
               stages=ok)  # fmt: skip
    shown = held_api.call("GET", "/api/tables/Genre").json()
    assert shown["source_to_dl"]["stale"] is True
    assert shown["source_to_dl"]["fresh_within_seconds"] == 3600
    assert shown["dl_to_sink"]["stale"] is None
    assert shown["dl_to_sink"]["fresh_within_seconds"] is None
    metrics = _metrics(held_api)
    assert metrics['sluice_table_stale{hop="source_to_dl",table="Genre"}'] == 1
    assert metrics['sluice_freshness_target_seconds{hop="source_to_dl",table="Genre"}'] == 3600
    assert 'sluice_table_stale{hop="dl_to_sink",table="Genre"}' not in metrics
    status = {row["hop"]: row for row in chinook("status --json", ok=True).json()}
    assert status["source_to_dl"]["stale"] is True
    assert status["source_to_dl"]["fresh_within_minutes"] == 60
    assert status["dl_to_sink"]["stale"] is None
    assert "STALE (not within 60m)" in chinook("status", ok=True).out

    # A success within the hour: fresh again.
    insert_run(table="Genre", status="success", started=datetime.now(UTC) - timedelta(minutes=5),
               stages=ok)  # fmt: skip
    assert held_api.call("GET", "/api/tables/Genre").json()["source_to_dl"]["stale"] is False
    assert _metrics(held_api)['sluice_table_stale{hop="source_to_dl",table="Genre"}'] == 0


def test_a_tables_own_freshness_target_replaces_twice_its_schedule(
    held_api: Api, chinook: Any
) -> None:
    chinook("table edit Genre --every 30m", ok=True)
    ok = (("extract", "success", 10, 1.0), ("load", "success", 10, 1.0))
    insert_run(table="Genre", status="success", started=datetime.now(UTC) - timedelta(minutes=20),
               stages=ok)  # fmt: skip
    hop = held_api.call("GET", "/api/tables/Genre").json()["source_to_dl"]
    assert (hop["stale"], hop["fresh_within"], hop["fresh_within_seconds"]) == (False, None, 3600)
    # Ten minutes: the success 20 minutes ago (ended 19 minutes ago) is too old.
    chinook("table edit Genre --fresh-within 10m", ok=True)
    hop = held_api.call("GET", "/api/tables/Genre").json()["source_to_dl"]
    assert (hop["stale"], hop["fresh_within"], hop["fresh_within_seconds"]) == (True, "10m", 600)
    assert (
        chinook("table show Genre --json", ok=True).json()["source_to_dl"]["fresh_within"] == "10m"
    )
    assert (
        _metrics(held_api)['sluice_freshness_target_seconds{hop="source_to_dl",table="Genre"}']
        == 600
    )
    # The API sets it too (hop 2), and '' restores the default.
    patched = held_api.call("PATCH", "/api/tables/Genre", json={"sink_fresh_within": "3h"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["dl_to_sink"]["fresh_within_seconds"] == 3 * 3600
    chinook("table edit Genre --fresh-within ''", ok=True)
    hop = held_api.call("GET", "/api/tables/Genre").json()["source_to_dl"]
    assert (hop["stale"], hop["fresh_within"], hop["fresh_within_seconds"]) == (False, None, 3600)
    for bad in ("0m", "2 weeks", "-1h", "99999d"):
        refused = chinook("table edit Genre --fresh-within", bad)
        assert refused.code != 0 and "--fresh-within" in refused.err, (bad, refused.err)
    refused = held_api.call("PATCH", "/api/tables/Genre", json={"sink_fresh_within": "soon"})
    assert refused.status_code == 422 and "--sink-fresh-within" in refused.text
