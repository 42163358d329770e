"""The REST API on a PostgreSQL config database: the same queries, the same answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.config.migrate import head_revision
from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.integration.api_support import Api, open_api

pytestmark = pytest.mark.postgres


@pytest.fixture(name="pg_api")
def pg_api_fixture(
    pg_database: str, sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    # The environment, so the API, the CLI and the runs' child processes all use it.
    monkeypatch.setenv("SLUICE_CONFIG_DB", pg_database)
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(
        f'destination add wh --type duckdb --creds \'{{"path": "{workdir / "wh.duckdb"}"}}\'',
        ok=True,
    )
    sluice("table add Genre --source chinook --destination wh --primary-key GenreId", ok=True)
    yield from open_api(sluice)


def test_runs_stats_and_metrics_on_postgresql(pg_api: Api) -> None:
    run_id = pg_api.call("POST", "/api/tables/Genre/runs").json()["run_id"]
    deadline = time.monotonic() + 60
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = pg_api.call("GET", f"/api/runs/{run_id}").json()
        if run["status"] in ("success", "failed"):
            break
        time.sleep(0.2)
    assert run["status"] == "success", run
    second = pg_api.call("POST", "/api/tables/Genre/runs").json()["run_id"]
    refused = pg_api.call("POST", "/api/tables/Genre/runs")  # its process is still starting
    assert refused.status_code == 409 and refused.json()["active_run_id"] == second

    page = pg_api.call("GET", "/api/runs?table=Genre&triggered_by=api&limit=1").json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    stats = pg_api.call("GET", "/api/stats?days=3").json()
    assert stats["runs_by_status"]["success"] >= 1
    assert [r["rows"] for r in stats["rows_loaded_per_day"]] == [25]
    assert {d["stage_type"] for d in stats["stage_durations"]} >= {"extract", "load"}
    table = pg_api.call("GET", "/api/tables/Genre").json()
    assert table["source_to_dl"]["last_success_at"] is not None
    metrics = pg_api.call("GET", "/metrics").text
    assert 'sluice_rows_moved_total{hop="dl_to_sink",table="Genre"}' in metrics
    assert pg_api.call("GET", "/health").json()["revision"] == head_revision()
