"""Stages on Celery workers: the queue is the template's `driver_container` ("default" where
it is empty), the broker Redis or RabbitMQ (SLUICE_BROKER_URL).

A task carries only (run, stage, stage log): the worker resolves everything else from the
config database, as any stage does (stages share nothing in memory), and writes its live
rows to the stage log; the engine that made the run waits for the task's answer and follows
those rows. Delivery is at least once: a task is acknowledged only when it ends (acks late,
one prefetched at a time), a worker that dies mid-task has it handed to another, and a stage
that outlived its run (reaped meanwhile) is stopped by fencing at its publication, as on the
local executor. Celery is imported only where this executor or a worker is used.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from sluice.core.errors import ConfigError, SluiceError, TerminalError, error_class
from sluice.engine.executor import StageTask
from sluice.engine.live_rows import LiveRows
from sluice.engine.services import Services
from sluice.engine.stage_runner import run_range, run_stage
from sluice.executors.choice import ENV_EXECUTOR
from sluice.executors.claims import run_once
from sluice.stages.context import StageContext, StageResult

if TYPE_CHECKING:
    from celery import Celery, Task

log = logging.getLogger("sluice.executors")

ENV_BROKER = "SLUICE_BROKER_URL"
TASK = "sluice.stage"
RANGE_TASK = "sluice.range"  # one range of a partitioned extract (stages/partitioned_extract.py)
# Redis hands an unacknowledged task to another worker after this long, taking its worker for
# dead: it must outlast the longest stage, or a slow stage would run twice at once. RabbitMQ
# needs none (it sees the worker's connection drop).
VISIBILITY_TIMEOUT_S = 12 * 3600
# How often a waiting engine looks at its task: every 20 ms for its first 2 s (most stages of
# a small table take milliseconds, and a run waits for each in turn), then every second, with
# the stage's live rows. A look is one read of the result backend.
QUICK_LOOK_S = 0.02
QUICK_FOR_S = 2.0
FOLLOW_EVERY_S = 1.0


def broker_url() -> str:
    url = os.environ.get(ENV_BROKER, "")
    if not url.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        raise ConfigError(
            f"{ENV_BROKER} must name the Celery broker, redis://HOST:6379/0 or "
            f"amqp://USER:PASSWORD@HOST:5672// (it is {'unset' if not url else 'not one'})"
        )
    return url


def check_shared(services: Services) -> None:
    """Workers elsewhere share the config database and the lake: refuse what they cannot
    share, in one line saying why."""
    if not services.config_url.startswith("postgresql"):
        raise ConfigError(
            f"{ENV_EXECUTOR}=celery needs a PostgreSQL config database, which every worker "
            "reaches (SQLite is one machine's file): set SLUICE_CONFIG_DB=postgresql://..."
        )
    lake = services.lake_uri()
    if "://" not in lake and not os.path.isabs(lake):
        raise ConfigError(
            f"{ENV_EXECUTOR}=celery needs a lake every worker sees (s3://... or an absolute "
            f"path on shared storage), not the relative path {lake!r}: set it with `sluice "
            "init --lake` or SLUICE_LAKE"
        )


def make_app(broker: str) -> Celery:
    from celery import Celery

    # RabbitMQ answers through reply queues (rpc://); Redis keeps answers itself.
    backend = broker if broker.startswith(("redis://", "rediss://")) else "rpc://"
    app = Celery("sluice", broker=broker, backend=backend)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        result_expires=24 * 3600,
        worker_hijack_root_logger=False,
        task_track_started=True,
    )
    app.task(name=TASK, bind=True)(_stage_task)
    app.task(name=RANGE_TASK, ignore_result=True)(_range_task)
    return app


@cache
def _worker_services() -> Services:
    """The config database as this worker process opens it (SLUICE_CONFIG_DB), once."""
    return Services.open(None)


class CeleryFanOut:
    """The ranges of a partitioned extract as tasks on the extract's own queue: the pool's
    free workers read them while the extract reads the ones nobody has taken."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def dispatch(self, ctx: StageContext, fan_id: str, numbers: list[int]) -> None:
        queue = ctx.stage.driver_container or "default"
        for number in numbers:
            self.app.send_task(RANGE_TASK, args=(fan_id, number), queue=queue)

    def close(self) -> None:
        """Nothing to wait for: a task taken after its extract ended finds no range left."""


def _stage_task(task: Task, run_id: int, stage_order: int, log_id: int | None) -> dict[str, Any]:
    """One stage, in a worker: its result, or the sluice error it ended with (by class name,
    so the engine raises the same kind: retried or not). A task delivered again while its
    first delivery still runs waits for that one's answer (executors/claims.py)."""
    services = _worker_services()
    task_id = str(task.request.id)
    return run_once(
        services.repo,
        task_id,
        run_id,
        lambda: _run(services, task.app, run_id, stage_order, log_id),
    )


def _run(
    services: Services, app: Celery, run_id: int, stage_order: int, log_id: int | None
) -> dict[str, Any]:
    live = LiveRows(services.repo, log_id, run_id) if log_id is not None else None
    try:
        result = run_stage(
            services,
            run_id,
            stage_order,
            live.update if live else (lambda rows: None),
            fan_out=CeleryFanOut(app),
        )
    except SluiceError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"rows": result.rows, "file_paths": result.file_paths, "warnings": result.warnings}


def _range_task(fan_id: str, number: int) -> int | None:
    """One range of a partitioned extract: the rows read (None: read by another process),
    which the worker's log shows."""
    return run_range(_worker_services(), fan_id, number)


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError

    found: list[type[BaseException]] = [OSError, OperationalError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:  # a RabbitMQ-only install
        return tuple(found)
    return (*found, RedisConnectionError)


def _lost(task: StageTask, why: str) -> TerminalError:
    """The run fails rather than wait for an answer that will not come; the stage, if a
    worker still runs it, publishes nothing (its run no longer holds the table's lock)."""
    return TerminalError(
        f"lost touch with stage {task.stage_order} of run {task.run_id} on queue "
        f"{task.pool!r}: {why}; the run fails here and whatever the stage still does is "
        "fenced off: run it again"
    )


class CeleryExecutor:
    """Hands each stage to the queue its template row names and waits for its answer."""

    def __init__(self, services: Services, broker: str | None = None) -> None:
        check_shared(services)
        self.services = services
        self.app = make_app(broker or broker_url())

    def execute(self, task: StageTask, progress: Callable[[int], None]) -> StageResult:
        from celery import states

        sent = self.app.send_task(
            TASK, args=(task.run_id, task.stage_order, task.log_id), queue=task.pool
        )
        shown = -1
        taken = False
        quick_until = time.monotonic() + QUICK_FOR_S
        # The task's state is read again and again (a plain read of the result backend), not
        # waited for with AsyncResult.get: on Redis that waits on a subscription's socket,
        # which a broker restart leaves dead and the wait with it, whatever its timeout.
        while True:
            try:
                state = sent.state
                if state in states.READY_STATES:
                    answer = sent.result
                    break
            except _broker_errors() as exc:
                raise _lost(task, f"the broker went away while it ran ({exc})") from None
            if state != states.PENDING:
                taken = True
            elif taken:
                # Taken by a worker (STARTED), unknown again: lost with the broker's state.
                raise _lost(task, "the broker no longer knows its task (restarted?)")
            if time.monotonic() < quick_until:
                time.sleep(QUICK_LOOK_S)
                continue
            rows = self._rows(task)  # a stage long enough for its rows to be worth a look
            if rows is not None and rows != shown:
                shown = rows
                progress(rows)
            time.sleep(FOLLOW_EVERY_S)
        if state == states.FAILURE:
            raise TerminalError(f"the worker failed unexpectedly: {sent.result!r}")
        if not isinstance(answer, dict):
            raise TerminalError(f"the worker answered {answer!r}, not a stage result")
        if "error" in answer:
            raise error_class(str(answer["error"]), TerminalError)(str(answer["message"]))
        return StageResult(
            rows=int(answer["rows"]),
            file_paths=list(answer["file_paths"]),
            warnings=list(answer["warnings"]),
        )

    def _rows(self, task: StageTask) -> int | None:
        if task.log_id is None:
            return None
        logs = self.services.repo.stage_logs(task.run_id)
        found = next((entry for entry in logs if entry.id == task.log_id), None)
        return None if found is None else found.rows_processed
