"""/api/stages: stage templates (pipeline_stages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from sluice.api.auth import ADMIN, VIEWER
from sluice.api.context import Ctx
from sluice.api.errors import responses
from sluice.api.schemas import Stage, StageIn

router = APIRouter(prefix="/api/stages", tags=["stages"])


@router.get(
    "",
    response_model=list[Stage],
    dependencies=[VIEWER],
    responses=responses(401, 404, 422),
    summary="List stage templates, or one template's stages",
    operation_id="list_stages",
)
def list_stages(ctx: Ctx, pipeline: str | None = None) -> list[Stage]:
    return [Stage.of(st) for st in ctx.catalog.stages(pipeline)]


@router.post(
    "",
    response_model=Stage,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 409, 422),
    summary="Add a stage to a template",
    operation_id="add_stage",
)
def add_stage(body: StageIn, ctx: Ctx) -> Stage:
    added = ctx.catalog.add_stage(
        body.pipeline, body.order, body.name, body.type, body.driver_container
    )
    return Stage.of(added)


@router.delete(
    "/{pipeline}/{order}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[ADMIN],
    responses=responses(401, 403, 404, 422),
    summary="Remove a stage from a template",
    operation_id="remove_stage",
)
def remove_stage(
    pipeline: str, order: Annotated[int, Path(ge=-(2**31), le=2**31 - 1)], ctx: Ctx
) -> Response:
    ctx.catalog.repo.remove_stage(pipeline, order)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
