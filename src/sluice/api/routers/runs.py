"""Runs: start one (202, executed in a child process), list them, show one with its stages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status

from sluice.api.auth import ADMIN, VIEWER
from sluice.api.context import ApiContext, Ctx
from sluice.api.errors import responses
from sluice.api.run_schemas import Run, RunIn, RunPage, RunStarted, RunSummary
from sluice.api.schemas import HopIn
from sluice.config.history import RunFilter
from sluice.config.records import RunRecord
from sluice.core.errors import ConfigError
from sluice.core.models import HopChoice, RunStatus, TriggeredBy

router = APIRouter(tags=["runs"])
MAX_ID = 2**63 - 1  # the config database's integer range
MAX_PAGE = 200  # a page of 200 runs with their stages stays well inside 100 ms


def utc(value: datetime | None, name: str) -> datetime | None:
    """A time from a query string in UTC (naive means UTC), or a message saying why not."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ConfigError(f"{name} {value.isoformat()} is out of range") from None


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        raise ConfigError(
            f"cursor {value[:40]!r} is not valid: pass the next_cursor of the previous page"
        )
    return int(value)


@router.post(
    "/api/tables/{source_tablename}/runs",
    response_model=RunStarted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 404, 409, 422, 503),
    summary="Start a run of a table's hop(s) now (triggered_by api)",
    description="Answers at once with the run id; the run executes in a child process. "
    "409 names the run already holding the hop in active_run_id.",
    operation_id="start_run",
    tags=["tables"],
)
def start_run(
    source_tablename: str,
    response: Response,
    ctx: Ctx,
    body: Annotated[RunIn | None, Body()] = None,
) -> RunStarted:
    wanted = body or RunIn()
    run = ctx.engine.create(source_tablename, wanted.hop, TriggeredBy.API, wanted.pipeline)
    return _launched(ctx, run, response)


def _launched(ctx: ApiContext, run: RunRecord, response: Response) -> RunStarted:
    """Hand a created run to its child process; 202 with where to follow it."""
    ctx.launcher.start(run)
    url = f"/api/runs/{run.id}"
    response.headers["Location"] = url
    return RunStarted(run_id=run.id, status=run.status, url=url)


@router.post(
    "/api/tables/{source_tablename}/reload",
    response_model=RunStarted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 404, 409, 422, 503),
    summary="Reload a table: a fresh full read into the lake, swapped into the sink whole",
    description='As `sluice table reload`: body {"hop": ...} (optional, both hops). '
    "Answers at once with the run id (triggered_by api); 409 names the run already holding "
    "the hop in active_run_id.",
    operation_id="reload_table",
    tags=["tables"],
)
def reload_table(
    source_tablename: str,
    response: Response,
    ctx: Ctx,
    body: Annotated[HopIn | None, Body()] = None,
) -> RunStarted:
    hop = body.hop if body is not None else HopChoice.ALL
    run = ctx.engine.create(source_tablename, hop, TriggeredBy.API, reload=True)
    return _launched(ctx, run, response)


@router.get(
    "/api/runs",
    response_model=RunPage,
    dependencies=[VIEWER],
    responses=responses(401, 422),
    summary="List runs, newest first, with their stages",
    description="Filters combine; since/until bound the start time (until exclusive). Pages "
    "are keyset-paginated: pass next_cursor as cursor to get the next, older page.",
    operation_id="list_runs",
)
def list_runs(
    ctx: Ctx,
    table: str | None = None,
    status: RunStatus | None = None,
    triggered_by: TriggeredBy | None = None,
    hop: HopChoice | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> RunPage:
    where = RunFilter(
        table=table,
        status=status.value if status else None,
        triggered_by=triggered_by.value if triggered_by else None,
        hop=hop.value if hop else None,
        since=utc(since, "since"),
        until=utc(until, "until"),
    )
    ctx.engine.reap()  # a run whose worker died shows as failed, never as plainly running
    # One more than asked tells whether another page follows.
    found = ctx.history.page(where, limit + 1, _cursor(cursor))
    page, more = found[:limit], len(found) > limit
    logs = ctx.history.stage_briefs_of([run.id for run in page])
    return RunPage(
        items=[RunSummary.of(run, logs[run.id]) for run in page],
        next_cursor=str(page[-1].id) if more else None,
    )


@router.get(
    "/api/runs/{run_id}",
    response_model=Run,
    dependencies=[VIEWER],
    responses=responses(401, 404, 422),
    summary="Show a run with its stage logs: status, rows, files, time, error",
    operation_id="get_run",
)
def get_run(run_id: Annotated[int, Path(ge=-MAX_ID, le=MAX_ID)], ctx: Ctx) -> Run:
    ctx.engine.reap()  # a run whose worker died shows as failed, never as plainly running
    run = ctx.services.repo.get_run(run_id)
    return Run.of(run, ctx.history.stage_logs_of([run.id])[run.id])
