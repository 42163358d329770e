"""`sluice token ...`: REST API tokens. A token is printed once, when it is created."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sluice.cli.output import console, emit_json, errors, table, when
from sluice.cli.state import STATE

if TYPE_CHECKING:
    from sluice.config.tokens import TokenRecord, TokenRepository

token_app = typer.Typer(help="REST API tokens (sluice serve).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
MAX_ID = 2**63 - 1


def _tokens() -> TokenRepository:
    from sluice.config.tokens import TokenRepository

    return TokenRepository(STATE.services().repo.engine)


def describe(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role.value,
        "created_at": record.created_at.isoformat(),
        "last_used_at": record.last_used_at.isoformat() if record.last_used_at else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="admin (change and run) or viewer (read).")],
    name: Annotated[str | None, typer.Option("--name", help="What it is for.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print it once: it cannot be shown again (only its hash is kept)."""
    from sluice.config.tokens import Role
    from sluice.core.errors import ConfigError

    try:
        chosen = Role(role)
    except ValueError:
        raise ConfigError(f"role {role!r} is unknown: use 'admin' or 'viewer'") from None
    token, record = _tokens().create(chosen, name)
    if as_json:
        emit_json({"token": token, **describe(record)})
        return
    # The token alone on stdout, so `TOKEN=$(sluice token create --role viewer)` works.
    print(token)
    errors.print(
        f"token {record.id} ({record.role.value}) created: store it now, it is not shown again",
        highlight=False,
    )


@token_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List tokens (never the tokens themselves)."""
    records = _tokens().list_tokens()
    if as_json:
        emit_json([describe(r) for r in records])
        return
    table(
        "API tokens",
        ["id", "name", "role", "created", "last used", "revoked"],
        [
            (
                r.id,
                r.name or "",
                r.role.value,
                when(r.created_at),
                when(r.last_used_at),
                when(r.revoked_at) if r.revoked_at else "",
            )
            for r in records
        ],
    )


@token_app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="Id from `token list`.")],
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    record = _tokens().revoke(token_id)
    console.print(f"token {record.id} revoked", highlight=False)
