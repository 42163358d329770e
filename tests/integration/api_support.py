"""Fixtures and helpers of the REST API tests: a real config database, tokens, a test client."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sluice.api import create_app
from sluice.engine.services import Services
from sluice.scheduler.daemon import Launcher
from tests.conftest import CHINOOK_SQLITE, Sluice

CONFIG_DB = Path("databases/config_db/data/config.db")


class HeldLauncher:
    """Records the runs it is asked to start and starts none: they stay pending (and locked)."""

    def __init__(self) -> None:
        self.started: list[int] = []

    def start(self, run_id: int) -> None:
        self.started.append(run_id)

    def running(self) -> list[int]:
        return []

    def stop_all(self) -> list[int]:
        return []


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    services: Services
    admin_token: str
    viewer_token: str
    bodies: list[str] = field(default_factory=list)  # every response body, for leak checks

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def viewer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.viewer_token}"}

    def call(self, method: str, path: str, *, token: str = "admin", **kwargs: Any) -> Any:
        headers = {"admin": self.admin, "viewer": self.viewer, "none": {}}[token]
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.bodies.append(response.text)
        return response


def open_api(sluice: Sluice, launcher: Launcher | None = None) -> Iterator[Api]:
    """An API over the workdir's config database, with an admin and a viewer token."""
    admin = sluice("token create --role admin --name tests", ok=True).out.strip()
    viewer = sluice("token create --role viewer", ok=True).out.strip()
    services = Services.open(None)
    app = create_app(services, launcher=launcher)
    with TestClient(app) as client:
        yield Api(app=app, client=client, services=services, admin_token=admin, viewer_token=viewer)
    # Runs started in child processes outlive a request; let them end before the next test.
    assert app.state.sluice.launcher.wait(timeout=60) == []
    services.close()


@pytest.fixture(name="chinook")
def chinook_fixture(sluice: Sluice, workdir: Path) -> Sluice:
    """An initialised config database with the Chinook source, a DuckDB sink and table Genre."""
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(
        f'destination add wh --type duckdb --creds \'{{"path": "{workdir / "wh.duckdb"}"}}\'',
        ok=True,
    )
    sluice("table add Genre --source chinook --destination wh --primary-key GenreId", ok=True)
    return sluice


@pytest.fixture(name="api")
def api_fixture(chinook: Sluice) -> Iterator[Api]:
    """The API; triggered runs really execute, in child processes."""
    yield from open_api(chinook)


@pytest.fixture(name="held")
def held_fixture() -> HeldLauncher:
    return HeldLauncher()


@pytest.fixture(name="held_api")
def held_api_fixture(chinook: Sluice, held: HeldLauncher) -> Iterator[Api]:
    """The API; triggered runs are created but never executed (they stay pending)."""
    yield from open_api(chinook, held)


def iso(at: datetime) -> str:
    """A timestamp as the config database stores it on SQLite."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def insert_run(
    *,
    table: str,
    status: str,
    started: datetime,
    triggered_by: str = "schedule",
    hop: str = "all",
    seconds: float = 60.0,
    stages: tuple[tuple[str, str, int, float], ...] = (),
) -> int:
    """A run with its stage logs (stage type, status, rows, seconds), written directly."""
    done = status not in ("pending", "running")
    completed = iso(started + timedelta(seconds=seconds)) if done else None
    with sqlite3.connect(CONFIG_DB) as c:
        run_id = c.execute(
            "INSERT INTO pipeline_runs_master (source_tablename, pipeline_name, status, "
            "current_stage, total_stages, triggered_by, started_at, completed_at, hop, "
            "heartbeat_at) VALUES (?, 'default', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                table,
                status,
                len(stages),
                len(stages),
                triggered_by,
                iso(started) if status != "pending" else None,
                completed,
                hop,
                iso(started),
            ),
        ).lastrowid
        for order, (stage_type, stage_status, rows, took) in enumerate(stages, start=1):
            c.execute(
                "INSERT INTO pipeline_run_stage_logs (pipeline_run_id, stage_order, status, "
                "rows_processed, file_paths, time_taken, started_at, stage_name, stage_type, "
                "completed_at, attempts) VALUES (?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, 1)",
                (
                    run_id,
                    order,
                    stage_status,
                    rows,
                    f"{took:.3f}",
                    iso(started + timedelta(seconds=order)),
                    stage_type.title(),
                    stage_type,
                    iso(started + timedelta(seconds=order + took)),
                ),
            )
    assert run_id is not None
    return int(run_id)
