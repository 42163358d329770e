"""The config database at scale: 10,000 tables, each with a run of both hops behind it.

Run by hand:  .venv/bin/python bench/scale.py [--tables N] [--repeat R]

Builds a config database in a temporary directory with sluice's own migrations, fills it with
INSERT ... SELECT (N tables of one SQLite source and one DuckDB destination, every hop active
every 60 minutes, each table's last run of both hops finished a minute ago: nothing is due),
then times, as a user meets them:

    scheduler pass   Scheduler.tick() with nothing to start (lease, reap, due hops)
    status --json    `sluice status --json` as a whole CLI process
    API tables page  GET /api/tables?limit=50 (a page of tables with both hops' state)
                     through the real application (FastAPI's TestClient, token check and
                     JSON included); deep page: ?limit=50&after=t05000
    API one table    GET /api/tables/{name}
    API all tables   GET /api/tables, every table in one answer (no target)

Medians of R. Targets (issue 15): a pass under 1 s, status under 2 s, an API page of tables
under 100 ms. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from config_db import scratch_config_db, ts

PROJECT = Path(__file__).resolve().parent.parent
TARGETS = {
    "scheduler pass": 1.0,
    "status --json": 2.0,
    "API tables page": 0.1,
    "API deep page": 0.1,
    "API one table": 0.1,
    "API all tables": float("inf"),  # for the record: 10,000 tables in one answer
}


def fill(path: Path, tables: int) -> None:
    ago = int(time.time()) - 60
    with sqlite3.connect(path) as c:
        c.executescript(
            f"""
            INSERT INTO sources_config VALUES ('s', 'src', 'sqlite', '{{"path": "x.db"}}', NULL);
            INSERT INTO destinations_config VALUES ('d', 'wh', 'duckdb', '{{"path": "w"}}', NULL);
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {tables - 1})
            INSERT INTO pipeline_config (source_tablename, sink_tablename, source_to_dl_schedule,
                source_to_dl_load_type, source_to_dl_is_active, source_type, dl_to_sink_schedule,
                dl_to_sink_load_type, dl_to_sink_is_active, sink_type, source_name,
                destination_name, pipeline_name, source_to_dl_last_loader_run_status,
                source_to_dl_last_loader_run_timestamp, dl_to_sink_last_loader_run_status,
                dl_to_sink_last_loader_run_timestamp)
            SELECT printf('t%05d', i), printf('t%05d', i), 60, 'full', 1, 'sqlite', 60, 'full',
                1, 'duckdb', 'src', 'wh', 'default', 'success', {ts(str(ago))}, 'success',
                {ts(str(ago))} FROM n;
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {tables - 1})
            INSERT INTO pipeline_runs_master (source_tablename, pipeline_name, status,
                current_stage, total_stages, triggered_by, started_at, completed_at, hop,
                heartbeat_at)
            SELECT printf('t%05d', i), 'default', 'success', 6, 6, 'schedule', {ts(str(ago))},
                {ts(str(ago + 5))}, 'all', {ts(str(ago + 5))} FROM n;
            """
        )


def median_seconds(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The first call's seconds and the median of `repeat` more."""
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from sluice.api import create_app
    from sluice.engine.services import Services
    from sluice.scheduler.daemon import InlineLauncher, Scheduler

    with tempfile.TemporaryDirectory(prefix="sluice-scale-") as tmp:
        path = Path(tmp) / "config.db"
        url, token = scratch_config_db(path)
        started = time.perf_counter()
        fill(path, args.tables)
        print(f"{args.tables:,} tables filled in {time.perf_counter() - started:.1f}s")

        services = Services.open(url)
        results: dict[str, tuple[float, float]] = {}
        scheduler = Scheduler(services, InlineLauncher(services))

        def one_pass() -> None:
            report = scheduler.tick()
            assert report.leader and not report.started, report

        results["scheduler pass"] = median_seconds(one_pass, args.repeat)

        env = {**os.environ, "PYTHONPATH": str(PROJECT / "src"), "SLUICE_CONFIG_DB": url}

        def status() -> None:
            done = subprocess.run(
                [sys.executable, "-m", "sluice", "status", "--json"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert len(json.loads(done.stdout)) >= args.tables

        results["status --json"] = median_seconds(status, args.repeat)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(services)) as client:

            def get(path: str, count: int) -> Callable[[], None]:
                def call() -> None:
                    response = client.get(path, headers=headers)
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert len(body) == count if isinstance(body, list) else body

                return call

            pages = {
                "API tables page": ("/api/tables?limit=50", 50),
                "API deep page": (f"/api/tables?limit=50&after=t{args.tables // 2:05d}", 50),
                "API one table": ("/api/tables/t00042", 0),
                "API all tables": ("/api/tables", args.tables),
            }
            for name, (target, count) in pages.items():
                results[name] = median_seconds(get(target, count), args.repeat)
        services.close()

    print(f"\n{'':<16} {'first s':>9} {'median s':>9} {'target s':>9}")
    for name, (first, median) in results.items():
        limit = TARGETS[name]
        mark = "ok  " if median <= limit else "MISS"
        print(f"{name:<16} {first:>9.3f} {median:>9.3f} {limit:>9.3f}  {mark}")


if __name__ == "__main__":
    main()
