"""/api/stats: the dashboard's figures over the last N days."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sluice.api.auth import VIEWER
from sluice.api.context import Ctx
from sluice.api.errors import responses
from sluice.api.run_schemas import DayOutcomes, StageTypeDuration, Stats, TableDayRows
from sluice.config.stats import Window
from sluice.core.clock import utcnow
from sluice.core.models import RunStatus
from sluice.stages.registry import stage_types

router = APIRouter(tags=["stats"])
MAX_DAYS = 90


@router.get(
    "/api/stats",
    response_model=Stats,
    dependencies=[VIEWER],
    responses=responses(401, 404, 422),
    summary="Dashboard figures over the last N days (UTC), all tables or one",
    description="Runs by status and per day, the success rate, rows loaded per table and day, "
    "and the mean duration per stage type. The cost follows the runs in the window, not the "
    "length of the history.",
    operation_id="get_stats",
)
def get_stats(
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days, today included.")] = 7,
    table: Annotated[str | None, Query(description="Only this table.")] = None,
) -> Stats:
    if table is not None:
        ctx.services.repo.get_table(table)  # an unknown table is a 404, not empty figures
    window = Window.last_days(days, utcnow())
    figures = ctx.stats.figures(window, table, stage_types())
    by_status = figures.runs_by_status
    finished = by_status[RunStatus.SUCCESS.value] + by_status[RunStatus.FAILED.value]
    return Stats(
        since=window.since,
        until=window.until,
        table=table,
        runs_by_status=by_status,
        success_rate=by_status[RunStatus.SUCCESS.value] / finished if finished else None,
        runs_per_day=[DayOutcomes(day=d.day, **d.by_status) for d in figures.runs_per_day],
        rows_loaded_per_day=[
            TableDayRows(table=r.table, day=r.day, rows=r.rows) for r in figures.rows_loaded_per_day
        ],
        stage_durations=[
            StageTypeDuration(
                stage_type=d.stage_type,
                count=d.count,
                mean_seconds=d.mean_seconds,
                max_seconds=d.max_seconds,
            )
            for d in figures.stage_durations
        ],
    )
