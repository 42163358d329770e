"""A running stage's rows, written to its log as it goes: what the API, the dashboard and a
run followed from another process show."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from sluice.config.repository import ConfigRepository
from sluice.core.errors import SluiceError

log = logging.getLogger("sluice.engine")


class LiveRows:
    """A running stage's rows written to its log about once a second, so the API and the
    dashboard show rows and rows/s of a run executing in another process."""

    EVERY = 1.0

    def __init__(self, repo: ConfigRepository, log_id: int, run_id: int) -> None:
        self.repo = repo
        self.log_id = log_id
        self.run_id = run_id
        self.written = time.monotonic()

    def update(self, rows: int) -> None:
        now = time.monotonic()
        if now - self.written < self.EVERY:
            return
        self.written = now
        try:
            # Fenced: a stage that outlived its reaped run leaves the reaper's log alone.
            self.repo.finish_stage_log(self.log_id, fenced_by=self.run_id, rows_processed=rows)
        except (SluiceError, SQLAlchemyError) as exc:  # a courtesy: never why a stage fails
            log.debug("live rows of stage log %s not written: %s", self.log_id, exc)
