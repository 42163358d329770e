"""/api/sources and /api/destinations: one implementation for both kinds, as in the CLI."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response, status

from sluice.api.auth import ADMIN, VIEWER
from sluice.api.context import ApiContext, Ctx
from sluice.api.errors import responses
from sluice.api.schemas import Connection, ConnectionEdit, ConnectionIn, ConnectionTest
from sluice.config.records import ConnectionRecord
from sluice.config.repository import ConnectionKind
from sluice.core.errors import StageError


def _shown(ctx: ApiContext, kind: ConnectionKind, record: ConnectionRecord) -> Connection:
    return Connection.model_validate(ctx.catalog.describe_connection(kind, record))


def connection_router(kind: ConnectionKind, path: str) -> APIRouter:
    label = kind.label
    router = APIRouter(prefix=path, tags=[f"{label}s"])

    @router.get(
        "",
        response_model=list[Connection],
        dependencies=[VIEWER],
        responses=responses(401),
        summary=f"List {label}s (credentials redacted)",
        operation_id=f"list_{label}s",
    )
    def list_(ctx: Ctx) -> list[Connection]:
        return [_shown(ctx, kind, record) for record in ctx.catalog.repo.list_connections(kind)]

    @router.post(
        "",
        response_model=Connection,
        status_code=status.HTTP_201_CREATED,
        dependencies=[ADMIN],
        responses=responses(400, 401, 403, 409, 422),
        summary=f"Add a {label}",
        operation_id=f"add_{label}",
    )
    def add(body: ConnectionIn, ctx: Ctx) -> Connection:
        # The shared layer takes creds as JSON text, as the CLI's --creds does.
        record = ctx.catalog.add_connection(
            kind, body.name, body.type, json.dumps(body.creds), check=body.check
        )
        return _shown(ctx, kind, record)

    @router.get(
        "/{name}",
        response_model=Connection,
        dependencies=[VIEWER],
        responses=responses(401, 404, 422),
        summary=f"Show a {label} (credentials redacted)",
        operation_id=f"get_{label}",
    )
    def show(name: str, ctx: Ctx) -> Connection:
        return _shown(ctx, kind, ctx.catalog.repo.get_connection(kind, name))

    @router.patch(
        "/{name}",
        response_model=Connection,
        dependencies=[ADMIN],
        responses=responses(400, 401, 403, 404, 409, 422),
        summary=f"Change a {label}'s creds or type (only the fields given)",
        description="creds replaces the stored creds as a whole; set changes single fields "
        f"and keeps the rest. The type may change only while no table uses the {label} (409).",
        operation_id=f"edit_{label}",
    )
    def edit(name: str, body: ConnectionEdit, ctx: Ctx) -> Connection:
        record = ctx.catalog.edit_connection(
            kind,
            name,
            type_name=body.type,
            creds_json=None if body.creds is None else json.dumps(body.creds),
            updates=body.set,
            check=body.check,
        )
        return _shown(ctx, kind, record)

    @router.delete(
        "/{name}",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[ADMIN],
        responses=responses(401, 403, 404, 409, 422),
        summary=f"Remove a {label} that no table uses",
        operation_id=f"remove_{label}",
    )
    def remove(name: str, ctx: Ctx) -> Response:
        ctx.catalog.repo.remove_connection(kind, name)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/{name}/test",
        response_model=ConnectionTest,
        dependencies=[ADMIN],
        responses=responses(401, 403, 404, 422),
        summary=f"Connect to the {label} and report what answered",
        description="ok is false, with the reason, when the connection fails.",
        operation_id=f"test_{label}",
    )
    def test(name: str, ctx: Ctx) -> ConnectionTest:
        try:
            answer = ctx.catalog.ping_connection(kind, name)
        except StageError as exc:  # the connector's own account of why, secrets masked
            return ConnectionTest(name=name, ok=False, detail=str(exc))
        return ConnectionTest(name=name, ok=True, detail=answer)

    return router
