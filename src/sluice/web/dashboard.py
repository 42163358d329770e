"""`mount_dashboard(app)`: the dashboard's pages and assets on an app made by `create_app`.

    /              -> /ui/
    /ui/login      paste a token; the tab keeps it in sessionStorage
    /ui/           tables overview: both hops' state, watermark, next due; run now, pause
    /ui/tables/NAME one table: both hops' settings and state, data age, last error, lake
                   batches, rows and duration per run; run now and reload
    /ui/runs       run history, filtered by table, status, trigger and hop
    /ui/runs/ID    one run: its stages as a timeline, rows, files, errors
    /ui/charts     rows loaded per table and run outcomes per day, hour or run (linear or
                   log axis), stage durations
    /ui/config     the config as a YAML document: load it, edit, see the plan, apply that
                   plan (admin; POST /api/config/plan and /apply)
    /ui/session    the calling token's role and name (JSON), so a page can go read-only
    /ui/static/    the CSS and JavaScript in this package (nothing from a CDN)

The pages are fixed shells: the server renders no data into them. The browser fetches
everything from /api/ with the token, so the dashboard shows exactly what the API returns
(never creds), and a viewer token is refused changes by the API whatever a page offers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from sluice.api.auth import authenticated
from sluice.config.tokens import TokenRecord

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PREFIX = "/ui"

# Pages load only this origin's scripts and styles, and are never framed.
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Page:
    path: str
    name: str  # templates/<name>.html and static/<name>.js
    title: str
    nav: str  # the navigation entry it highlights; '' for none


PAGES = (
    Page("/login", "login", "Sign in", ""),
    Page("/", "overview", "Tables", "overview"),
    Page("/runs", "runs", "Runs", "runs"),
    Page("/runs/{run_id:int}", "run", "Run", "runs"),
    Page("/tables/{source_tablename}", "table", "Table", "overview"),
    Page("/charts", "charts", "Charts", "charts"),
    Page("/config", "config", "Config", "config"),
)


def asset_version() -> str:
    """A digest of the static files: asset URLs change whenever their content does."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def render(page: Page, version: str) -> str:
    layout = Template((TEMPLATES / "base.html").read_text(encoding="utf-8"))
    main = (TEMPLATES / f"{page.name}.html").read_text(encoding="utf-8")
    return layout.substitute(
        title=page.title, page=page.name, nav=page.nav, main=main, v=version, prefix=PREFIX
    )


class Assets(StaticFiles):
    """The package's static files, revalidated by ETag and never sniffed as another type."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def _page_route(html: str) -> Callable[[], Awaitable[HTMLResponse]]:
    async def show() -> HTMLResponse:
        return HTMLResponse(html, headers=HTML_HEADERS)

    return show


def session(token: Annotated[TokenRecord, Depends(authenticated)]) -> JSONResponse:
    """Who the token is: its role and name, never the token (the API has no such endpoint)."""
    return JSONResponse(
        {"role": token.role.value, "name": token.name}, headers={"Cache-Control": "no-store"}
    )


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard to an app made by `sluice.api.create_app` (it reuses the API's auth)."""
    version = asset_version()
    for page in PAGES:
        app.add_api_route(
            PREFIX + page.path,
            _page_route(render(page, version)),
            methods=["GET"],
            include_in_schema=False,
            response_class=HTMLResponse,
            name=f"dashboard_{page.name}",
        )
    app.add_api_route(
        PREFIX + "/session", session, methods=["GET"], include_in_schema=False, name="ui_session"
    )
    for path in ("/", PREFIX):
        app.add_api_route(
            path,
            _redirect_to_overview,
            methods=["GET"],
            include_in_schema=False,
            name=f"dashboard_root{path.replace('/', '_')}",
        )
    app.mount(PREFIX + "/static", Assets(directory=STATIC), name="dashboard_static")


async def _redirect_to_overview() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/", status_code=307)
