"""A run: the template's stages for the chosen hop(s), in order, each logged.

    pending -> running -> success | failed

A failing stage fails the run with its message; later stages do not run. After each hop's
last stage (or its failing stage) the hop's last run status and time are written to
pipeline_config. Stages execute through an executor keyed by the stage's driver_container.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from sluice.config.records import RunRecord, StageRecord, TableConfig
from sluice.config.repository import DESTINATIONS, SOURCES, ConfigRepository
from sluice.connectors import registry
from sluice.core.clock import utcnow
from sluice.core.errors import ConfigError, NotFoundError, SluiceError
from sluice.core.models import Hop, HopChoice, RunStatus, TriggeredBy
from sluice.core.redact import scrub
from sluice.engine.services import Services
from sluice.executors.base import Executor, StageTask
from sluice.stages.registry import get_stage_type

log = logging.getLogger("sluice.engine")


class RunObserver(Protocol):
    def run_started(self, run: RunRecord, stages: list[StageRecord]) -> None: ...

    def stage_started(self, stage: StageRecord) -> None: ...

    def stage_progress(self, stage: StageRecord, rows: int) -> None: ...

    def stage_finished(
        self, stage: StageRecord, status: str, rows: int, seconds: float, error: str | None
    ) -> None: ...


class SilentObserver:
    def run_started(self, run: RunRecord, stages: list[StageRecord]) -> None:
        return None

    def stage_started(self, stage: StageRecord) -> None:
        return None

    def stage_progress(self, stage: StageRecord, rows: int) -> None:
        return None

    def stage_finished(
        self, stage: StageRecord, status: str, rows: int, seconds: float, error: str | None
    ) -> None:
        return None


def stages_for(
    repo: ConfigRepository, table: TableConfig, hop: HopChoice, pipeline: str
) -> list[StageRecord]:
    template = repo.list_stages(pipeline)
    if not template:
        raise ConfigError(f"pipeline {pipeline!r} has no stages: see `sluice stages list`")
    wanted = set(hop.hops())
    chosen = [st for st in template if get_stage_type(st.stage_type).hop in wanted]
    if not chosen:
        raise ConfigError(
            f"pipeline {pipeline!r} has no stages for hop {hop.value} of table "
            f"{table.source_tablename!r}"
        )
    return chosen


def _secrets(repo: ConfigRepository, table: TableConfig) -> list[str]:
    found: list[str] = []
    for kind, name, role in (
        (SOURCES, table.source_name, "source"),
        (DESTINATIONS, table.destination_name, "destination"),
    ):
        if not name:
            continue
        try:
            record = repo.get_connection(kind, name)
            found += registry.validate_creds(record.type, record.creds, role=role).secret_values()
        except (ConfigError, NotFoundError):
            continue
    return found


class RunEngine:
    def __init__(self, services: Services, executor: Executor) -> None:
        self.services = services
        self.repo = services.repo
        self.executor = executor

    def create(
        self,
        table_name: str,
        hop: HopChoice,
        triggered_by: TriggeredBy,
        pipeline: str | None = None,
    ) -> RunRecord:
        table = self.repo.get_table(table_name)
        pipeline_name = pipeline or table.pipeline_name
        stages = stages_for(self.repo, table, hop, pipeline_name)
        return self.repo.create_run(
            table.source_tablename, pipeline_name, hop.value, triggered_by.value, len(stages)
        )

    def execute(self, run_id: int, observer: RunObserver | None = None) -> RunRecord:
        watcher = observer or SilentObserver()
        run = self.repo.get_run(run_id)
        table = self.repo.get_table(run.source_tablename)
        stages = stages_for(self.repo, table, HopChoice(run.hop), run.pipeline_name)
        secrets = _secrets(self.repo, table)
        self.repo.update_run(run_id, status=RunStatus.RUNNING.value, started_at=utcnow())
        watcher.run_started(self.repo.get_run(run_id), stages)
        failure: str | None = None
        for index, stage in enumerate(stages):
            hop = get_stage_type(stage.stage_type).hop
            failure = self._execute_stage(run_id, stage, watcher, secrets)
            last_of_hop = (
                index + 1 == len(stages)
                or get_stage_type(stages[index + 1].stage_type).hop is not hop
            )
            if failure is not None or last_of_hop:
                status = RunStatus.FAILED if failure else RunStatus.SUCCESS
                self.repo.set_hop_result(table.source_tablename, hop, status.value, utcnow())
            if failure is not None:
                break
        self.repo.update_run(
            run_id,
            status=(RunStatus.FAILED if failure else RunStatus.SUCCESS).value,
            completed_at=utcnow(),
            error_message=failure,
        )
        return self.repo.get_run(run_id)

    def _execute_stage(
        self, run_id: int, stage: StageRecord, watcher: RunObserver, secrets: list[str]
    ) -> str | None:
        """Run one stage and log it; return the error message if it failed."""
        log_id = self.repo.start_stage_log(run_id, stage, utcnow())
        watcher.stage_started(stage)
        started = time.perf_counter()
        task = StageTask(
            run_id=run_id, stage_order=stage.stage_order, pool=stage.driver_container or "default"
        )
        error: str | None = None
        rows = 0
        paths: list[str] = []
        try:
            result = self.executor.execute(task, lambda n: watcher.stage_progress(stage, n))
            rows, paths = result.rows, result.file_paths
        except SluiceError as exc:
            error = scrub(f"{stage.stage_type}: {exc}", secrets)
        except Exception as exc:  # the engine is the one place that catches everything
            log.exception("stage %s of run %s crashed", stage.stage_type, run_id)
            error = scrub(f"{stage.stage_type}: unexpected {type(exc).__name__}: {exc}", secrets)
        seconds = time.perf_counter() - started
        self.repo.finish_stage_log(
            log_id,
            status="failed" if error else "success",
            rows_processed=rows,
            file_paths=paths,
            time_taken=f"{seconds:.3f}",
            completed_at=utcnow(),
            error_message=error,
        )
        watcher.stage_finished(stage, "failed" if error else "success", rows, seconds, error)
        return error


def hop_of(stage: StageRecord) -> Hop:
    return get_stage_type(stage.stage_type).hop
