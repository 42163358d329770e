"""A run: the template's stages for the chosen hop(s), in order, each logged.

    pending -> running -> success | failed

A failing stage fails the run with its message; later stages do not run. After each hop's
last stage (or its failing stage) the hop's last run status and time are written to
pipeline_config. Stages execute through an executor keyed by the stage's driver_container.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from typing import Protocol

from sluice.config.records import RunRecord, StageRecord, TableConfig
from sluice.connectors import registry
from sluice.core.clock import utcnow
from sluice.core.errors import (
    ConfigError,
    ConflictError,
    FencedOffError,
    SluiceError,
    TransientError,
)
from sluice.core.models import Hop, HopChoice, RunStatus, TriggeredBy
from sluice.core.redact import scrub
from sluice.engine.executor import Executor, StageTask
from sluice.engine.live_rows import LiveRows
from sluice.engine.liveness import Heartbeat, reap, this_worker
from sluice.engine.plan import stages_for
from sluice.engine.scope import RunScope, resolve
from sluice.engine.services import Services
from sluice.engine.settings import EngineSettings
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


def _secrets(scope: RunScope) -> list[str]:
    """The secret values of the run's connections, scrubbed from every message it writes."""
    found: list[str] = []
    for record, role in ((scope.source, "source"), (scope.destination, "destination")):
        if record is None:
            continue
        try:
            found += registry.validate_creds(record.type, record.creds, role=role).secret_values()
        except ConfigError:
            continue
    return found


class RunEngine:
    def __init__(
        self, services: Services, executor: Executor, settings: EngineSettings | None = None
    ) -> None:
        self.services = services
        self.repo = services.repo
        self.executor = executor
        self.settings = settings or EngineSettings.from_env()
        self._plans: dict[int, tuple[StageRecord, ...]] = {}
        self._tables_at_start: dict[int, TableConfig] = {}

    def _lake_secrets(self, scope: RunScope) -> list[str]:
        """The lake options' secret values, scrubbed from run errors like connection creds."""
        try:
            options = self.services.lake_options(scope.lake_settings())
        except ConfigError:
            return []  # unreadable options fail the stage that opens the lake, with the reason
        return options.secrets() if options is not None else []

    def reap(self) -> list[int]:
        """Fail runs whose worker died, releasing their locks (see engine/liveness.py)."""
        reaped = reap(self.repo, self.settings.heartbeat_timeout)
        for run_id in reaped:
            log.warning("run %s was abandoned by its worker: marked failed", run_id)
        return reaped

    def create(
        self,
        table_name: str,
        hop: HopChoice,
        triggered_by: TriggeredBy,
        pipeline: str | None = None,
        *,
        reload: bool = False,
    ) -> RunRecord:
        """A pending run; `reload` makes it a `sluice table reload` run (see Extract, Load)."""
        table = self.repo.get_table(table_name)
        pipeline_name = pipeline or table.pipeline_name
        stages = stages_for(self.repo, table, hop, pipeline_name)

        def made() -> RunRecord:
            return self.repo.create_run(
                table.source_tablename,
                pipeline_name,
                hop.value,
                triggered_by.value,
                stages,
                worker=this_worker(),
                reload=reload,
            )

        try:
            run = made()
        except ConflictError:
            # A run that died a moment ago must not block this one until its heartbeat
            # times out: reaped, the lock is free.
            if not self.reap():
                raise
            run = made()
        # The plan as frozen, for this process's execute: the rows say the same.
        self._plans[run.id] = tuple(stages)
        return run

    def execute(self, run_id: int, observer: RunObserver | None = None) -> RunRecord:
        watcher = observer or SilentObserver()
        run = self.repo.start_run(run_id, this_worker())  # ConflictError unless pending
        try:
            # Resolved once for the whole run, after its lock was taken: the table, the
            # plan, the connections, the lake.
            scope = resolve(self.services, run_id, run, self._plans.pop(run_id, None))
        except SluiceError as exc:
            self.repo.finish_run(run_id, RunStatus.FAILED, str(exc))
            raise
        self._tables_at_start[run_id] = scope.table
        secrets = _secrets(scope) + self._lake_secrets(scope)
        watcher.run_started(run, list(scope.plan))
        with Heartbeat(self.repo, run_id, self.settings.heartbeat_interval):
            try:
                failure, last_hop = self._execute_stages(run_id, scope, watcher, secrets)
            finally:
                _close(scope)
        status = RunStatus.FAILED if failure else RunStatus.SUCCESS
        # The run's status and its last hop's status in one transaction: they move together.
        finished = self.repo.finish_run(run_id, status, failure, {last_hop: status.value})
        del self._tables_at_start[run_id]
        return finished or self.repo.get_run(run_id)  # None: reaped meanwhile, its verdict

    def table_at_start(self, run_id: int) -> TableConfig | None:
        """The table as run `run_id` read it when it started in this engine (None: it has
        not started here, or it finished): what an interrupted run is reported against."""
        return self._tables_at_start.get(run_id)

    def _execute_stages(
        self, run_id: int, scope: RunScope, watcher: RunObserver, secrets: list[str]
    ) -> tuple[str | None, Hop]:
        """Run the stages in order; the failure (if any) and the hop the run ended in.

        A hop that finishes while stages of another follow has its status written at once
        (hop 1's success stands whatever hop 2 does); the last hop's goes with the run's.
        """
        failure: str | None = None
        stages = scope.plan
        table = scope.table
        hop = get_stage_type(stages[0].stage_type).hop
        for index, stage in enumerate(stages):
            hop = get_stage_type(stage.stage_type).hop
            failure = self._execute_stage(run_id, stage, watcher, secrets, scope)
            if failure is not None:
                _close(scope)
                break
            following = stages[index + 1] if index + 1 < len(stages) else None
            if following is not None and get_stage_type(following.stage_type).hop is not hop:
                try:
                    written = self.repo.set_hop_result(
                        table.source_tablename,
                        hop,
                        RunStatus.SUCCESS.value,
                        utcnow(),
                        fenced_by=run_id,
                    )
                except FencedOffError as exc:  # reaped meanwhile: stop, write nothing more
                    return str(exc), hop
                _close(scope)  # each hop opens its systems once
                # The next hop sees what this one wrote: the row as the status update left it.
                scope = dataclasses.replace(scope, table=written)
        return failure, hop

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so retries of many runs do not stampede."""
        ceiling = self.settings.retry_base * 2.0 ** (attempt - 1)
        return float(min(self.settings.retry_cap, ceiling) * _jitter())

    def _execute_stage(
        self,
        run_id: int,
        stage: StageRecord,
        watcher: RunObserver,
        secrets: list[str],
        scope: RunScope,
    ) -> str | None:
        """Run one stage and log it; return the error message if it failed."""
        log_id = self.repo.start_stage_log(run_id, stage, utcnow())
        watcher.stage_started(stage)
        started = time.perf_counter()
        task = StageTask(
            run_id=run_id,
            stage_order=stage.stage_order,
            pool=stage.driver_container or "default",
            log_id=log_id,
            scope=scope,
        )
        error: str | None = None
        rows = 0
        paths: list[str] = []
        warnings: list[str] = []
        attempt = 1
        while True:
            try:
                live = LiveRows(self.repo, log_id, run_id)

                def progress(rows_so_far: int, live: LiveRows = live) -> None:
                    watcher.stage_progress(stage, rows_so_far)
                    live.update(rows_so_far)

                result = self.executor.execute(task, progress)
                rows, paths = result.rows, result.file_paths
                warnings = [scrub(w, secrets) for w in result.warnings]
                for warning in warnings:
                    log.warning("run %s stage %s: %s", run_id, stage.stage_type, warning)
            except TransientError as exc:
                if attempt >= self.settings.max_attempts:
                    error = scrub(
                        f"{stage.stage_type}: {exc} (gave up after {attempt} attempts)", secrets
                    )
                else:
                    delay = self._backoff(attempt)
                    note = scrub(
                        f"attempt {attempt} failed: {exc}; retrying in {delay:.1f}s", secrets
                    )
                    log.warning("run %s stage %s: %s", run_id, stage.stage_type, note)
                    self.repo.finish_stage_log(
                        log_id, fenced_by=run_id, attempts=attempt + 1, error_message=note
                    )
                    time.sleep(delay)
                    attempt += 1
                    # A retry opens its systems afresh and sees what the failed attempt wrote
                    # (a watermark, a held note).
                    _close(scope)
                    task = dataclasses.replace(task, scope=scope.refreshed(self.repo))
                    continue
            except SluiceError as exc:
                error = scrub(f"{stage.stage_type}: {exc}", secrets)
            except Exception as exc:  # the engine is the one place that catches everything
                log.exception("stage %s of run %s crashed", stage.stage_type, run_id)
                error = scrub(
                    f"{stage.stage_type}: unexpected {type(exc).__name__}: {exc}", secrets
                )
            break
        seconds = time.perf_counter() - started
        logged = self.repo.finish_stage_log(
            log_id,
            fenced_by=run_id,
            status="failed" if error else "success",
            rows_processed=rows,
            file_paths=paths,
            time_taken=f"{seconds:.3f}",
            completed_at=utcnow(),
            error_message=error,
            attempts=attempt,
            warnings="\n".join(warnings) or None,
        )
        if not logged:  # the run was reaped meanwhile: its log and status are the reaper's
            error = error or f"{stage.stage_type}: run {run_id} was reaped while this stage ran"
            log.warning("run %s was reaped while it ran; fenced off: %s", run_id, error)
        watcher.stage_finished(stage, "failed" if error else "success", rows, seconds, error)
        return error


def _close(scope: RunScope) -> None:
    """Close the hop's kept connections; a failure to close is no reason to fail a run."""
    try:
        scope.connections.close()
    except Exception:  # a driver's own error on close: logged, never raised
        log.warning("closing the connections of run %s failed", scope.run.id, exc_info=True)


def _jitter() -> float:
    return random.uniform(0.5, 1.0)
