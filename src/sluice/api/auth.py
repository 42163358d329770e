"""Bearer tokens: every endpoint but /health needs one; viewer reads, admin also changes.

    Authorization: Bearer sluice_...     (tokens come from `sluice token create`)

A missing, unknown or revoked token is 401; a viewer token on an endpoint that changes config
or starts a run is 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sluice.api.context import Ctx
from sluice.config.tokens import Role, TokenRecord, TokenRepository

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token made by `sluice token create --role admin|viewer`.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def authenticated(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> TokenRecord:
    return check_token(ctx.tokens, None if credentials is None else credentials.credentials)


def check_token(tokens: TokenRepository, token: str | None) -> TokenRecord:
    """The token's record, or 401 saying what is wrong (also used before a body is read)."""
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a token is required: send `Authorization: Bearer TOKEN` with a token made by "
            "`sluice token create`",
            headers=_CHALLENGE,
        )
    record = tokens.authenticate(token)
    if record is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token is unknown or revoked: make a new one with `sluice token create`",
            headers=_CHALLENGE,
        )
    return record


def admin(token: Annotated[TokenRecord, Depends(authenticated)]) -> TokenRecord:
    if token.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this is a {token.role.value} token, which may only read: changing config and "
            "starting runs need an admin token",
        )
    return token


# Route dependencies: `dependencies=[VIEWER]` to read, `[ADMIN]` to change or trigger.
VIEWER = Depends(authenticated)
ADMIN = Depends(admin)
