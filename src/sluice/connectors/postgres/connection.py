"""The one place sluice talks to libpq: opening a connection and translating its errors.

Every driver error becomes a TransientError (retrying may help: the network, the server
restarting, lock and serialization conflicts, timeouts) or a TerminalError (everything else),
with the secrets scrubbed out of the driver's text.
"""

from __future__ import annotations

import re
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from sluice.connectors.postgres.config import PostgresCreds
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.redact import scrub

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

# SQLSTATEs after which the same work may succeed when tried again.
TRANSIENT_SQLSTATES = frozenset(
    {
        "08000",
        "08001",
        "08003",
        "08004",
        "08006",  # connection exceptions
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
        "57P01",
        "57P02",
        "57P03",  # admin/crash shutdown, cannot connect now
        "57P05",  # idle_session_timeout
        "25P03",  # idle_in_transaction_session_timeout
        "53300",  # too_many_connections
    }
)
# libpq reports connection failures without a SQLSTATE: these words mark the passing ones.
TRANSIENT_MESSAGES = (
    "connection refused",
    "connection reset",
    "connection timed out",
    "timeout expired",
    "server closed the connection",
    "no connection to the server",
    "could not receive data",
    "could not send data",
    "no route to host",
    "network is unreachable",
    "the database system is starting up",
    "the database system is shutting down",
    "too many clients",
    "terminating connection",
)


def connect(creds: PostgresCreds) -> Connection:
    """An autocommit connection: transactions are explicit BEGIN ... COMMIT where they matter."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi

    try:
        connection: Connection = adbc_driver_postgresql.dbapi.connect(
            creds.conninfo(), autocommit=True
        )
    except adbc_driver_manager.Error as exc:
        raise translate(exc, creds, "cannot connect to") from exc
    return connection


def close_quietly(connection: Connection, cursor: Cursor) -> None:
    """Close a helper connection of a split read or load; closing rolls back what is open."""
    import adbc_driver_manager

    with suppress(adbc_driver_manager.Error):
        cursor.close()
    with suppress(adbc_driver_manager.Error):
        connection.close()


def translate(exc: BaseException, creds: PostgresCreds, doing: str = "") -> StageError:
    """The sluice error for a driver error: one line, no secrets, transient or terminal."""
    text = " ".join(scrub(str(exc), creds.secrets()).split())
    guarded = _ARRAY_GUARD.search(text)
    if guarded is not None:
        return TerminalError(array_refusal(*guarded.groups()))
    message = f"PostgreSQL {doing + ' ' if doing else ''}{creds.location()}: {text}"
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in TRANSIENT_SQLSTATES or (
        sqlstate is None and any(word in text.lower() for word in TRANSIENT_MESSAGES)
    ):
        return TransientError(message)
    return TerminalError(message)


_ARRAY_GUARD = re.compile(r"sluice-array-guard::(.*?)::(.*?)::(.*?)::(\d+)::(-?\d+)")


def array_refusal(table: str, column: str, declared: str, dimensions: str, lower: str) -> str:
    """What the read guard of the source (source.array_guard) means, and what to do."""
    shape = (
        f"a {dimensions}-dimensional array"
        if dimensions != "1"
        else f"an array whose first index is {lower}"
    )
    return (
        f"column {column!r} ({declared}) of {table} holds {shape}: Arrow lists have one "
        "dimension and no bounds, so it would arrive flattened or renumbered; nothing was "
        f"published. Read it as text in a view (SELECT ..., {column}::text AS {column} ...), "
        "which keeps every dimension and bound exactly (e.g. '[0:2]={7,8,9}')"
    )


def number_params(sql: str, marker: str) -> str:
    """Rewrite `?` placeholders as numbered ones (`marker` like "${}"), outside quotes."""
    out: list[str] = []
    quote: str | None = None
    number = 0
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None  # a doubled quote just closes and reopens: same result
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(marker.format(number))
            continue
        out.append(char)
    return "".join(out)


def fetch(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run `sql` with `params` and all its rows."""
    cursor.execute(sql, params or None)
    return [tuple(row) for row in cursor.fetchall()]
