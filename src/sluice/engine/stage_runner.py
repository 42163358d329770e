"""Executing one stage from persisted state: what any executor calls, in any process."""

from __future__ import annotations

from collections.abc import Callable

from sluice.engine.scope import RunScope, resolve
from sluice.engine.services import Services
from sluice.stages.context import StageContext, StageResult
from sluice.stages.registry import get_stage_type


def run_stage(
    services: Services,
    run_id: int,
    stage_order: int,
    progress: Callable[[int], None],
    scope: RunScope | None = None,
) -> StageResult:
    """Run one stage of the run's plan (frozen when the run was made: a template edited since
    changes nothing). `scope` is what the engine resolved in this process; without it the
    run is resolved from the config database."""
    scope = scope or resolve(services, run_id)
    stage = next(st for st in scope.plan if st.stage_order == stage_order)
    context = StageContext(
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
    )
    # Connectors and the lake raise sluice's own errors (the lake's storage failures sorted
    # into retryable and not by lake/errors.py): nothing here guesses where an error came from.
    return get_stage_type(stage.stage_type)().run(context)
