"""The REST API application: `create_app(services)` wires the routers to a config database.

Nothing here opens a database: the caller hands over Services (the CLI's `sluice serve`, or a
test), and may replace the launcher that executes triggered runs (child processes by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from sluice import __version__
from sluice.api import errors
from sluice.api.context import ApiContext
from sluice.api.guard import DEFAULT_MAX_BODY, RequestGuard
from sluice.api.launch import RunLauncher
from sluice.api.metrics import RunMetrics
from sluice.api.routers import config, connections, ops, runs, stages, stats, tables
from sluice.config.history import RunHistory
from sluice.config.repository import DESTINATIONS, SOURCES
from sluice.config.stats import RunStats
from sluice.config.tokens import TokenRepository
from sluice.engine.runner import RunEngine
from sluice.engine.services import Services
from sluice.executors.choice import executor_for
from sluice.scheduler.daemon import Launcher, SubprocessLauncher
from sluice.service.catalog import Catalog

DESCRIPTION = """Configure and run sluice over HTTP: sources, destinations, tables, stage
templates, runs and dashboard figures. Every endpoint but `/health` needs
`Authorization: Bearer TOKEN` (`sluice token create`); viewer tokens read, admin tokens also
change config and start runs. Errors are `{"detail": "one line"}`, with the messages of the CLI.
Credentials are never returned: secret values read `***`."""


def create_app(
    services: Services,
    *,
    launcher: Launcher | None = None,
    cors_origins: Sequence[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    # The document is served by a route that checks the token; no Swagger UI, which would
    # fetch it without one (and from a CDN).
    app = FastAPI(
        title="sluice",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Starlette's trailing-slash redirect builds its Location from the request's Host
        # header, which a caller chooses: paths are exact instead.
        redirect_slashes=False,
    )
    repo = services.repo
    engine = repo.engine
    history = RunHistory(engine)
    run_stats = RunStats(engine)
    app.state.sluice = ApiContext(
        services=services,
        catalog=Catalog(repo),
        tokens=TokenRepository(engine),
        history=history,
        stats=run_stats,
        engine=RunEngine(services, executor_for(services)),
        launcher=RunLauncher(launcher or SubprocessLauncher(services.config_url), repo),
        metrics=RunMetrics(run_stats, history),
    )
    errors.install(app)
    # Added before CORS so CORS stays outermost: a preflight is answered without a token.
    app.add_middleware(RequestGuard, tokens=app.state.sluice.tokens, max_body=max_body_bytes)
    if cors_origins:  # off unless origins are named: browsers then refuse cross-site calls
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.include_router(connections.connection_router(SOURCES, "/api/sources"))
    app.include_router(connections.connection_router(DESTINATIONS, "/api/destinations"))
    for module in (tables, runs, stages, stats, ops, config):
        app.include_router(module.router)
    return app
