"""/api/config: the config as a YAML document (plan, apply, export), as `sluice apply` and
`sluice export` do it. Plan and apply are admin only, since a document can change or remove
anything; the export is a read (secrets hidden, as every listing hides them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sluice.api.auth import ADMIN, VIEWER
from sluice.api.context import ApiContext, Ctx
from sluice.api.errors import responses
from sluice.api.schemas import ConfigDocumentIn, ConfigExport, PlanView
from sluice.service.plan import Plan

router = APIRouter(prefix="/api/config", tags=["config"])
ORIGIN = "the document"


def _plan(ctx: ApiContext, body: ConfigDocumentIn) -> Plan:
    from sluice.service.document import read_document
    from sluice.service.plan import Planner

    document, lines = read_document(body.document, ORIGIN)
    return Planner(ctx.services.repo, ORIGIN, lines).plan(document, prune=body.prune)


@router.post(
    "/plan",
    response_model=PlanView,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 404, 409, 422),
    summary="What applying a YAML config document would change (nothing is changed)",
    operation_id="plan_config",
)
def plan_config(body: ConfigDocumentIn, ctx: Ctx) -> PlanView:
    return PlanView.model_validate({"applied": False, **_plan(ctx, body).as_json()})


@router.post(
    "/apply",
    response_model=PlanView,
    dependencies=[ADMIN],
    responses=responses(400, 401, 403, 404, 409, 422),
    summary="Make the config match a YAML config document; answers what was changed",
    operation_id="apply_config",
)
def apply_config(body: ConfigDocumentIn, ctx: Ctx) -> PlanView:
    from sluice.service.apply import apply_plan

    plan = _plan(ctx, body)
    apply_plan(ctx.services.repo, plan)
    return PlanView.model_validate({"applied": True, **plan.as_json()})


@router.get(
    "/export",
    response_model=ConfigExport,
    dependencies=[VIEWER],
    responses=responses(401, 403, 422),
    summary="The config as a YAML document for apply (secrets never in clear)",
    operation_id="export_config",
)
def export_config(
    ctx: Ctx,
    tables: Annotated[
        str | None, Query(description="Only tables whose name matches this pattern.")
    ] = None,
) -> ConfigExport:
    from sluice.service.export import export_yaml

    return ConfigExport(document=export_yaml(ctx.services.repo, tables))
