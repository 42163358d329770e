"""REST API latency over a large run history: 100,000 runs and 600,000 stage logs.

Run by hand:  .venv/bin/python bench/api_latency.py [--runs N] [--days D] [--repeat R]

Builds a config database in a temporary directory with sluice's own migrations (so the
indexes are the ones users get), fills it in a few seconds with INSERT ... SELECT from a
recursive CTE (50 tables; runs of both hops spread evenly over the last D days, 6 stage logs
each; 1 in 37 failed; 5% api, 5% manual, the rest scheduled), then times every list and stats
endpoint through the real application (FastAPI's TestClient, token check and JSON included).
Prints the first call, then the median and 95th percentile of R more, and their median CPU
time, per endpoint, in milliseconds. A stats window's first call rolls up its past days
(config/stats.py); the last case changes a stage log of yesterday before each call, as a late
finish or a reaping does, so yesterday is rolled up again each time.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config_db import scratch_config_db, ts

TABLES = 50
BUDGET_MS = 100.0
STAGES = (
    (1, "Check source", "check_source"),
    (2, "Extract to lake", "extract"),
    (3, "Verify lake batch", "verify_lake"),
    (4, "Check sink", "check_sink"),
    (5, "Load sink", "load"),
    (6, "Verify sink", "verify_sink"),
)


def fill(path: Path, runs: int, days: int) -> None:
    span = days * 86_400
    step = span / runs
    now = int(time.time())
    start = now - span
    with sqlite3.connect(path) as c:
        c.executescript(
            f"""
            INSERT INTO sources_config VALUES ('s', 'src', 'sqlite', '{{"path": "x.db"}}', NULL);
            INSERT INTO destinations_config VALUES ('d', 'wh', 'duckdb', '{{"path": "w"}}', NULL);
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {TABLES - 1})
            INSERT INTO pipeline_config (source_tablename, sink_tablename, source_to_dl_schedule,
                source_to_dl_load_type, source_to_dl_is_active, source_type, dl_to_sink_schedule,
                dl_to_sink_load_type, dl_to_sink_is_active, sink_type, source_name,
                destination_name, pipeline_name)
            SELECT printf('t%02d', i), printf('t%02d', i), 60, 'full', 1, 'sqlite', 60, 'full',
                1, 'duckdb', 'src', 'wh', 'default' FROM n;
            """
        )
        started = f"{start} + CAST(i * {step} AS INTEGER)"
        c.execute(
            f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {runs})
            INSERT INTO pipeline_runs_master (id, source_tablename, pipeline_name, status,
                current_stage, total_stages, triggered_by, started_at, completed_at,
                error_message, hop, heartbeat_at)
            SELECT i, printf('t%02d', i % {TABLES}), 'default',
                CASE WHEN i > {runs} - 2 THEN 'running' WHEN i % 37 = 0 THEN 'failed'
                     ELSE 'success' END,
                6, 6,
                CASE i % 20 WHEN 0 THEN 'api' WHEN 1 THEN 'manual' ELSE 'schedule' END,
                {ts(started)},
                CASE WHEN i > {runs} - 2 THEN NULL ELSE {ts(f"{started} + 60 + i % 120")} END,
                CASE WHEN i % 37 = 0 THEN 'verify_sink: row counts differ' END,
                'all', {ts(started)}
            FROM n
            """
        )
        values = ", ".join(f"({o}, '{name}', '{kind}')" for o, name, kind in STAGES)
        c.execute(
            f"""
            WITH s(o, name, kind) AS (VALUES {values})
            INSERT INTO pipeline_run_stage_logs (pipeline_run_id, stage_order, status,
                rows_processed, file_paths, time_taken, started_at, stage_name, stage_type,
                completed_at, error_message, attempts)
            SELECT r.id, s.o,
                CASE WHEN s.o = 6 AND r.status IN ('failed', 'running') THEN r.status
                     ELSE 'success' END,
                CASE WHEN s.kind IN ('check_sink') THEN 0 ELSE 1000 + r.id % 500 END,
                '[]', printf('%.3f', 0.5 + (r.id % 100) / 10.0 + s.o),
                {ts("unixepoch(substr(r.started_at, 1, 19)) + s.o * 10")},
                s.name, s.kind,
                CASE WHEN s.o = 6 AND r.status = 'running' THEN NULL
                     ELSE {ts("unixepoch(substr(r.started_at, 1, 19)) + s.o * 10 + 9")} END,
                CASE WHEN s.o = 6 AND r.status = 'failed' THEN 'row counts differ' END, 1
            FROM pipeline_runs_master r CROSS JOIN s ORDER BY r.id, s.o
            """
        )


def change_yesterday(path: Path) -> None:
    """Flip the duration of one stage log started yesterday: its day's rollup is out of date."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT12")
    with sqlite3.connect(path) as c:
        c.execute(
            "UPDATE pipeline_run_stage_logs SET time_taken = CASE time_taken WHEN '1.000' "
            "THEN '2.000' ELSE '1.000' END WHERE id = (SELECT id FROM pipeline_run_stage_logs "
            "WHERE stage_type = 'load' AND started_at >= ? ORDER BY started_at LIMIT 1)",
            (yesterday,),
        )


def measure(
    client: Any,
    headers: dict[str, str],
    path: str,
    repeat: int,
    before: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Wall time of each call, and the CPU time this process spent on it (client, server and
    SQLite all run in this process): on a busy machine the two differ by the time spent
    waiting for a core. `before` runs ahead of each call, untimed."""
    if before is not None:
        before()
    first_started = time.perf_counter()
    response = client.get(path, headers=headers)
    first = (time.perf_counter() - first_started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    wall, cpu = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        started, cpu_started = time.perf_counter(), time.process_time()
        client.get(path, headers=headers)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    wall.sort()
    return {
        "first": first,
        "median": statistics.median(wall),
        "p95": wall[max(0, int(len(wall) * 0.95) - 1)],
        "cpu": statistics.median(cpu),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="history spread over D days")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from sluice.api import create_app
    from sluice.engine.services import Services

    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        path = Path(tmp) / "config.db"
        url, token = scratch_config_db(path)
        started = time.perf_counter()
        fill(path, args.runs, args.days)
        with sqlite3.connect(path) as c:
            runs = c.execute("SELECT count(*) FROM pipeline_runs_master").fetchone()[0]
            logs = c.execute("SELECT count(*) FROM pipeline_run_stage_logs").fetchone()[0]
        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
        print(
            f"config database: {runs:,} runs, {logs:,} stage logs, {TABLES} tables over "
            f"{args.days} days ({runs / args.days:,.0f} runs a day), {size:.0f} MiB, "
            f"filled in {time.perf_counter() - started:.1f}s"
        )

        now = datetime.now(UTC)
        month_ago = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        day_after = (now - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
        old = (now - timedelta(days=args.days - 5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cases = [
            ("runs: newest page (50)", "/api/runs"),
            ("runs: 200 a page (the most)", "/api/runs?limit=200"),
            ("runs: deep page (cursor)", f"/api/runs?cursor={runs // 50}"),
            ("runs: table", "/api/runs?table=t07"),
            ("runs: status failed", "/api/runs?status=failed"),
            ("runs: triggered_by api", "/api/runs?triggered_by=api"),
            ("runs: table + status", "/api/runs?table=t07&status=failed"),
            ("runs: api + failed", "/api/runs?triggered_by=api&status=failed"),
            ("runs: one day a month ago", f"/api/runs?since={month_ago}&until={day_after}"),
            ("runs: until near the start", f"/api/runs?until={old}"),
            ("runs: one run", f"/api/runs/{runs // 2}"),
            ("tables (with hop state)", "/api/tables"),
            ("sources", "/api/sources"),
            ("stages", "/api/stages"),
            ("stats: 7 days (default)", "/api/stats"),
            ("stats: 7 days, one table", "/api/stats?table=t07"),
            ("stats: 30 days", "/api/stats?days=30"),
            ("stats: 90 days", "/api/stats?days=90"),
            ("stats: 90 days, table", "/api/stats?days=90&table=t07"),
            ("metrics", "/metrics"),
            ("health", "/health"),
        ]
        services = Services.open(url)
        headers = {"Authorization": f"Bearer {token}"}
        results = []
        with TestClient(create_app(services)) as client:
            for label, target in cases:
                results.append((label, target, measure(client, headers, target, args.repeat)))
            label, target = "stats: 90 days, day changed", "/api/stats?days=90"
            changed = measure(client, headers, target, args.repeat, lambda: change_yesterday(path))
            results.append((label, target, changed))
        services.close()

    load = os.getloadavg()[0]
    print(
        f"\n{args.repeat} calls each after a first one, in ms; budget {BUDGET_MS:.0f} ms for the "
        f"median; load average {load:.1f} on {os.cpu_count()} cores"
    )
    header = f"{'endpoint':30} {'first':>8} {'median':>8} {'p95':>8} {'cpu':>8} {'KiB':>7}  ok"
    print(header)
    print("-" * len(header))
    slow = 0
    for label, _target, r in results:
        ok = r["median"] < BUDGET_MS
        slow += not ok
        print(
            f"{label:30} {r['first']:8.1f} {r['median']:8.1f} {r['p95']:8.1f} {r['cpu']:8.1f} "
            f"{r['bytes'] / 1024:7.1f}  {'yes' if ok else 'NO'}"
        )
    print(
        "\nfirst: the first call (for /metrics: the whole history summed once per process); "
        "cpu: median CPU time of a call, client included"
    )
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
