"""Executing one stage (or one range of a partitioned extract) from persisted state: what any
executor calls, in any process."""

from __future__ import annotations

from collections.abc import Callable

from sluice.engine.scope import RunScope, resolve
from sluice.engine.services import Services
from sluice.stages.context import StageContext, StageResult
from sluice.stages.partitioned_extract import FanOut, read_range
from sluice.stages.registry import get_stage_type


def stage_context(
    services: Services,
    run_id: int,
    stage_order: int,
    progress: Callable[[int], None],
    scope: RunScope | None = None,
    fan_out: FanOut | None = None,
) -> StageContext:
    """The context of one stage of the run's plan (frozen when the run was made: a template
    edited since changes nothing). `scope` is what the engine resolved in this process;
    without it the run is resolved from the config database."""
    scope = scope or resolve(services, run_id)
    stage = next(st for st in scope.plan if st.stage_order == stage_order)
    return StageContext(
        repo=services.repo,
        lake=scope.lake(),
        run=scope.run,
        stage=stage,
        table=scope.table,
        plan=scope.plan,
        progress=progress,
        source_record=scope.source,
        destination_record=scope.destination,
        connections=scope.connections,
        fan_out=fan_out,
    )


def run_stage(
    services: Services,
    run_id: int,
    stage_order: int,
    progress: Callable[[int], None],
    scope: RunScope | None = None,
    fan_out: FanOut | None = None,
) -> StageResult:
    resolved = scope or resolve(services, run_id)
    context = stage_context(services, run_id, stage_order, progress, resolved, fan_out)
    try:
        # Connectors and the lake raise sluice's own errors (the lake's storage failures
        # sorted into retryable and not by lake/errors.py): nothing here guesses where an
        # error came from.
        return get_stage_type(context.stage.stage_type)().run(context)
    finally:
        if scope is None:  # resolved for this stage alone (a worker's task): nobody else closes
            resolved.connections.close()


def run_range(services: Services, fan_id: str, number: int) -> int | None:
    """Read one range of a partitioned extract, if nobody has claimed it yet (a worker's
    task; the outcome is recorded in the range's row, which the extract follows). Answers
    the rows read, None when another process read it."""
    records = services.repo.partitions(fan_id)
    if not records:
        return None  # the extract ended (and dropped its ranges) before this task was taken
    scope = resolve(services, records[0].run_id)
    context = stage_context(services, scope.run.id, records[0].stage_order, _ignore, scope)
    try:
        return read_range(context, fan_id, number)
    finally:
        scope.connections.close()


def _ignore(rows: int) -> None:
    """A range's rows reach the extract through its row, not through a progress callback."""
