"""sluice errors as HTTP responses: every error body is {"detail": "one line"}.

    ConfigError              422  the shared validation layer's message, as the CLI prints it
    request validation       422  the body or a parameter does not fit the schema
    unreadable body          400  not JSON at all (FastAPI's own answer)
    NotFoundError            404
    ConflictError            409  plus active_run_id when a run holds the hop
    missing or bad token     401
    token's role too low     403
    run process not started  503  (the run is marked failed at once)
    lake unreachable         503  (a table's batches could not be read)

Messages never quote a request's values (pydantic's `input`), so creds sent in a malformed
body cannot come back in the error.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from sluice.api.launch import LaunchError
from sluice.api.schemas import ConflictBody, ErrorBody
from sluice.core.errors import ConfigError, ConflictError, NotFoundError, StageError

_DESCRIPTIONS = {
    400: "The body could not be read as JSON.",
    401: "No token, or an unknown or revoked one.",
    403: "The token's role may not do this (viewer tokens only read).",
    404: "Nothing of that name or id.",
    409: "Exists already, in use, or the hop is already running.",
    422: "Invalid input; the message is the one the CLI prints.",
    503: "The config database cannot be reached.",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation can answer with."""
    return {
        code: {
            "model": ConflictBody if code == 409 else ErrorBody,
            "description": _DESCRIPTIONS[code],
        }
        for code in codes
    }


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _config_error(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    active = exc.active_run_id if isinstance(exc, ConflictError) else None
    return JSONResponse({"detail": str(exc), "active_run_id": active}, status_code=409)


async def _launch_failed(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _validation_message(exc)}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(LaunchError, _launch_failed)
    # A lake the API reads (a table's batches) that cannot be reached, denied or missing.
    app.add_exception_handler(StageError, _launch_failed)
