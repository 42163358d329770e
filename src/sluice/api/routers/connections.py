"""/api/sources and /api/destinations: one implementation for both kinds, as in the CLI."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response, status

from sluice.api.auth import ADMIN, VIEWER
from sluice.api.context import ApiContext, Ctx
from sluice.api.errors import responses
from sluice.api.schemas import Connection, ConnectionIn, ConnectionTest
from sluice.config.repository import ConnectionKind
from sluice.connectors import registry
from sluice.core.errors import StageError
from sluice.core.redact import scrub


def _shown(ctx: ApiContext, kind: ConnectionKind, name: str) -> Connection:
    record = ctx.catalog.repo.get_connection(kind, name)
    return Connection.model_validate(ctx.catalog.describe_connection(kind, record))


def connection_router(kind: ConnectionKind, path: str) -> APIRouter:
    label = kind.label
    role = "source" if label == "source" else "destination"
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
        return [
            Connection.model_validate(ctx.catalog.describe_connection(kind, record))
            for record in ctx.catalog.repo.list_connections(kind)
        ]

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
        record = ctx.catalog.add_connection(kind, body.name, body.type, json.dumps(body.creds))
        return Connection.model_validate(ctx.catalog.describe_connection(kind, record))

    @router.get(
        "/{name}",
        response_model=Connection,
        dependencies=[VIEWER],
        responses=responses(401, 404, 422),
        summary=f"Show a {label} (credentials redacted)",
        operation_id=f"get_{label}",
    )
    def show(name: str, ctx: Ctx) -> Connection:
        return _shown(ctx, kind, name)

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
        record = ctx.catalog.repo.get_connection(kind, name)
        secrets = registry.validate_creds(record.type, record.creds, role=role).secret_values()
        try:
            if label == "source":
                source = registry.open_source(record.type, record.creds)
                try:
                    answer = source.ping()
                finally:
                    source.close()
            else:
                sink = registry.open_sink(record.type, record.creds)
                try:
                    answer = sink.ping()
                finally:
                    sink.close()
        except StageError as exc:  # the connector's own account of why it failed
            return ConnectionTest(name=name, ok=False, detail=scrub(str(exc), secrets))
        return ConnectionTest(name=name, ok=True, detail=scrub(answer, secrets))

    return router
