"""What every request passes before any route sees it: a body needs a valid token first and
fits a size cap; answers are not cached.

A body is read only once its token checks out, so a caller without one can make the server
neither parse nor hold a byte of it (401 at once). A body larger than the cap is refused with
413: at once when Content-Length says so, or as soon as a streamed (chunked) body passes the
cap, so the server never holds more than `max_body` bytes of one request. No endpoint that
takes a body is open without a token, so this refuses nothing a route would accept.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.api.auth import check_token
from sluice.config.tokens import TokenRepository

DEFAULT_MAX_BODY = 1_000_000


class RequestGuard:
    """ASGI middleware: token before body, body size cap, `Cache-Control: no-store`."""

    def __init__(self, app: ASGIApp, *, tokens: TokenRepository, max_body: int) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _no_store(send)
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and length in (None, "0"):
            await self.app(scope, receive, send)
            return
        try:
            await run_in_threadpool(check_token, self.tokens, _bearer(headers))
        except HTTPException as exc:
            await _refuse(exc.status_code, exc.detail, scope, receive, send, exc.headers)
            return
        if not chunked and length is not None:
            if not length.isdigit():
                await _refuse(
                    400, "the Content-Length header is not a number", scope, receive, send
                )
                return
            if int(length) > self.max_body:
                await _refuse(413, self._too_large(), scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # A streamed body of unknown length: read it here, up to the cap, and hand it on whole.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(413, self._too_large(), scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {self.max_body} bytes, the limit of this "
            "server (`sluice serve --max-body-bytes`): send a smaller one"
        )


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _refuse(
    code: int,
    detail: str,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: Mapping[str, str] | None = None,
) -> None:
    # Connection: close, so the server does not wait for the unread body to look for the
    # next request on this connection.
    response = JSONResponse(
        {"detail": detail}, code, headers={**(headers or {}), "Connection": "close"}
    )
    await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _no_store(send: Send) -> Send:
    """API answers may hold config and run details: no browser or proxy keeps a copy. (The
    dashboard's pages and assets say their own caching.)"""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            if "cache-control" not in headers:
                headers["Cache-Control"] = "no-store"
        await send(message)

    return sending
