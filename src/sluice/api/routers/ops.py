"""/health (no token: for load balancers and probes), /metrics and /openapi.json."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from sluice import __version__
from sluice.api.auth import VIEWER
from sluice.api.context import Ctx
from sluice.api.errors import responses
from sluice.api.metrics import CONTENT_TYPE
from sluice.api.run_schemas import Health, SchedulerStatus
from sluice.config.database import sqlite_file_missing
from sluice.config.revision import current_revision
from sluice.core.clock import utcnow
from sluice.scheduler.liveness import scheduler_liveness

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_model=Health,
    responses=responses(503),
    summary="Liveness and config database reachability; needs no token",
    operation_id="health",
)
def health(ctx: Ctx) -> Response:
    try:
        # A SQLite file deleted under a running server still answers through the pool's open
        # handle (and a new connection would create an empty file): look for the file first.
        reachable = sqlite_file_missing(ctx.services.config_url) is None
        revision = current_revision(ctx.services.repo.engine) if reachable else None
    except SQLAlchemyError:
        reachable, revision = False, None
    if not reachable:
        body = Health(status="unavailable", revision=None, version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", revision=revision, version=__version__).model_dump())


@router.get(
    "/metrics",
    dependencies=[VIEWER],
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **responses(401),
    },
    response_class=Response,
    summary="Prometheus metrics: runs by status, rows moved, stage durations, last successes",
    operation_id="metrics",
)
def metrics(ctx: Ctx) -> Response:
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)


@router.get(
    "/api/scheduler",
    dependencies=[VIEWER],
    response_model=SchedulerStatus,
    responses=responses(401),
    summary="Whether a scheduler is running: the lease holder and its last pass",
    operation_id="scheduler_status",
)
def scheduler_status(ctx: Ctx) -> SchedulerStatus:
    now = utcnow()
    return SchedulerStatus(**scheduler_liveness(ctx.services.repo, now).as_json(now))


@router.get("/openapi.json", dependencies=[VIEWER], include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    document: dict[str, Any] = request.app.openapi()
    return document
