"""Reads of the config database never hold SQLite's writer lock: a listing held open (a slow
API client, a long `status`) does not delay a run's state writes."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from sluice.config import schema as s
from sluice.engine.services import Services
from tests.conftest import Sluice
from tests.processes import sluice_process


def test_a_listing_held_open_does_not_delay_a_run(
    configured: Sluice, services: Services, workdir: Path
) -> None:
    configured("run Genre", ok=True)
    with services.repo.read() as c:
        listed = c.execute(sa.select(s.pipeline_runs_master)).all()  # held open from here
        started = time.monotonic()
        ran = sluice_process(workdir, "run", "Genre")
        took = time.monotonic() - started
        assert ran.returncode == 0, ran.stdout + ran.stderr
        # The reader's snapshot is its own: it still sees the one run it listed.
        assert c.execute(
            sa.select(sa.func.count()).select_from(s.pipeline_runs_master)
        ).scalar() == len(listed)
    # Six stages' state writes did not wait for the reader (SQLite's busy timeout is 60 s).
    assert took < 20, took
    assert len(services.repo.list_runs()) == 2
