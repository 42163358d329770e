"""/api/tables: the rows of pipeline_config, with each hop's state for a dashboard overview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from sluice.api.auth import ADMIN, VIEWER
from sluice.api.context import ApiContext, Ctx
from sluice.api.errors import responses
from sluice.api.schemas import (
    HopIn,
    HopView,
    LakeBatch,
    Table,
    TableEdit,
    TableIn,
    TableOptions,
)
from sluice.config.records import TableConfig
from sluice.core.clock import utcnow
from sluice.core.freshness import freshness
from sluice.scheduler.due import hop_states
from sluice.service.catalog import TableChanges
from sluice.stages.registry import stage_types

router = APIRouter(prefix="/api/tables", tags=["tables"])
MAX_TABLES_PAGE = 1000
# Up to this many tables the history queries are limited to them (a page, one table); above,
# every table's row is read once, which costs less than so long a list of names.
PAGE_FILTER_MAX = 1000


def views(ctx: ApiContext, tables: Sequence[TableConfig]) -> list[Table]:
    """Tables with each hop's state, next due time and last success (a few queries in all,
    about these tables only when they are a page)."""
    now = utcnow()
    names = [t.source_tablename for t in tables] if len(tables) <= PAGE_FILTER_MAX else None
    locked = ctx.services.repo.locked_hops()
    started = ctx.history.last_started(names)
    succeeded = ctx.history.last_success(names)
    stage_hops = {name: kind.hop for name, kind in stage_types().items()}
    failures = ctx.history.last_failures(stage_hops, names)
    shown = []
    for table in tables:
        hops = {}
        for state in hop_states(table, started, locked):
            hop = state.hop
            key = (table.source_tablename, hop)
            config = table.hop(hop)
            failure = failures.get(key) if config.last_run_status == "failed" else None
            fresh = freshness(
                config.schedule_minutes,
                config.is_active,
                succeeded.get(key),
                config.last_run_at,
                now,
                config.fresh_within,
            )
            hops[hop] = HopView(
                schedule_minutes=config.schedule_minutes,
                load_type=config.load_type.value,
                is_active=config.is_active,
                incremental_key=config.incremental_key,
                last_incremental_value=config.last_incremental_value,
                last_run_at=config.last_run_at,
                last_run_status=config.last_run_status,
                state="running" if state.busy else ("active" if state.active else "paused"),
                next_due_at=state.next_due(now),
                last_success_at=succeeded.get(key),
                fresh_within=config.fresh_within,
                fresh_within_seconds=fresh.target_seconds,
                stale=fresh.stale,
                last_error_run_id=failure[0] if failure else None,
                last_error=failure[1] if failure else None,
            )
        shown.append(Table.of(table, hops))
    return shown


def view(ctx: ApiContext, table: TableConfig) -> Table:
    return views(ctx, [table])[0]


def _changes(body: TableOptions, *, source: str | None, destination: str | None) -> TableChanges:
    """The options given, named as TableChanges names them (null: not given)."""
    options = body.model_dump(exclude_none=True, include=set(TableOptions.model_fields))
    return TableChanges(source=source, destination=destination, **options)


@router.get(
    "",
    response_model=list[Table],
    dependencies=[VIEWER],
    responses=responses(401, 422),
    summary="List tables with both hops' state, next due time and last success",
    operation_id="list_tables",
)
def list_tables(
    ctx: Ctx,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_TABLES_PAGE, description="A page of this many tables.")
    ] = None,
    after: Annotated[
        str | None, Query(description="The page after this table name (the last of the page).")
    ] = None,
) -> list[Table]:
    ctx.engine.reap()  # a hop whose run's worker died shows as failed, not running
    return views(ctx, ctx.services.repo.list_tables(limit, after))


@router.post(
    "",
    response_model=Table,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 404, 409, 422),
    summary="Configure a table for replication",
    operation_id="add_table",
)
def add_table(body: TableIn, ctx: Ctx) -> Table:
    changes = _changes(body, source=body.source, destination=body.destination)
    return view(ctx, ctx.catalog.add_table(body.source_tablename, changes, check=body.check))


@router.get(
    "/{source_tablename}",
    response_model=Table,
    dependencies=[VIEWER],
    responses=responses(401, 404, 422),
    summary="Show a table",
    operation_id="get_table",
)
def get_table(source_tablename: str, ctx: Ctx) -> Table:
    return view(ctx, ctx.services.repo.get_table(source_tablename))


@router.patch(
    "/{source_tablename}",
    response_model=Table,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 404, 409, 422),
    summary="Change a table's settings (only the fields given; '' clears a text option)",
    operation_id="edit_table",
)
def edit_table(source_tablename: str, body: TableEdit, ctx: Ctx) -> Table:
    changes = _changes(body, source=body.source, destination=body.destination)
    return view(ctx, ctx.catalog.edit_table(source_tablename, changes, check=body.check))


@router.delete(
    "/{source_tablename}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[ADMIN],
    responses=responses(401, 403, 404, 422),
    summary="Remove a table's configuration and run history (lake and sink stay as they are)",
    operation_id="remove_table",
)
def remove_table(source_tablename: str, ctx: Ctx) -> Response:
    ctx.services.repo.remove_table(source_tablename)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


OptionalHop = Annotated[HopIn | None, Body()]


def _activity_route(action: str, active: bool, summary: str) -> None:
    """POST .../pause and .../resume: one handler; only the flag they set differs."""

    @router.post(
        f"/{{source_tablename}}/{action}",
        response_model=Table,
        dependencies=[ADMIN],
        responses=responses(400, 401, 403, 404, 422),
        summary=summary,
        operation_id=f"{action}_table",
    )
    def set_active(source_tablename: str, ctx: Ctx, body: OptionalHop = None) -> Table:
        hop = (body or HopIn()).hop
        return view(ctx, ctx.catalog.set_active(source_tablename, hop, active))


_activity_route("pause", False, "Stop scheduling a table's hop(s)")
_activity_route("resume", True, "Schedule a table's hop(s) again")


@router.get(
    "/{source_tablename}/batches",
    response_model=list[LakeBatch],
    dependencies=[VIEWER],
    responses=responses(401, 404, 422, 503),
    summary="A table's committed lake batches, oldest first (as `sluice lake ls`)",
    operation_id="list_lake_batches",
)
def list_lake_batches(source_tablename: str, ctx: Ctx) -> list[LakeBatch]:
    from sluice.lake.reader import LakeTable

    table = ctx.services.repo.get_table(source_tablename)
    lake_table = LakeTable(ctx.services.lake(), table.source_name or "_", table.source_tablename)
    committed = lake_table.committed()  # the lake raises its own storage errors
    return [LakeBatch(**lake_table.described(m)) for m in committed]
