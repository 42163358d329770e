"""`sluice serve`: the REST API and the dashboard over HTTP (uvicorn), imported when used."""

from __future__ import annotations

from typing import Annotated

import typer

from sluice.cli.output import console
from sluice.cli.state import STATE


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8765,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="Allow browser calls from this origin (repeatable); none by default.",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            "--max-body-bytes", min=1, help="Largest request body accepted (413 above it)."
        ),
    ] = 1_000_000,  # api.guard.DEFAULT_MAX_BODY, not imported: FastAPI loads only when serving
) -> None:
    """Serve the REST API (OpenAPI document at /openapi.json; tokens: `sluice token create`)."""
    import uvicorn

    from sluice.api import create_app
    from sluice.web import mount_dashboard

    services = STATE.services()
    app = create_app(services, cors_origins=cors_origin or (), max_body_bytes=max_body_bytes)
    mount_dashboard(app)
    console.print(
        f"sluice API and dashboard on http://{host}:{port}/ (Ctrl-C stops it)", highlight=False
    )
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
