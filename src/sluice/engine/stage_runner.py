"""Executing one stage from persisted state: what any executor calls, in any process."""

from __future__ import annotations

from collections.abc import Callable

from sluice.engine.plan import planned_stages
from sluice.engine.services import Services
from sluice.stages.context import StageContext, StageResult
from sluice.stages.registry import get_stage_type


def run_stage(
    services: Services, run_id: int, stage_order: int, progress: Callable[[int], None]
) -> StageResult:
    repo = services.repo
    run = repo.get_run(run_id)
    table = repo.get_table(run.source_tablename)
    # The run's own plan, frozen when it was made: a template edited since changes nothing.
    plan = planned_stages(repo, run, table)
    stage = next(st for st in plan if st.stage_order == stage_order)
    context = StageContext(
        repo=repo,
        lake=services.lake(),
        run=run,
        stage=stage,
        table=table,
        plan=tuple(plan),
        progress=progress,
    )
    # Connectors and the lake raise sluice's own errors (the lake's storage failures sorted
    # into retryable and not by lake/errors.py): nothing here guesses where an error came from.
    return get_stage_type(stage.stage_type)().run(context)
