"""The one place sluice opens a PyMySQL connection, and where driver errors become sluice's.

Every error of PyMySQL or connectorx becomes a TransientError (retrying may help: the network,
the server restarting, lock waits and deadlocks, too many connections) or a TerminalError
(everything else: bad password, unknown database, missing table), one line, secrets scrubbed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sluice.connectors.mysql.config import MySQLCreds
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.redact import scrub

if TYPE_CHECKING:
    from pymysql.connections import Connection

# Server and client error numbers after which the same work may succeed when tried again.
TRANSIENT_ERRNOS = frozenset(
    {
        1040,  # ER_CON_COUNT_ERROR: too many connections
        1053,  # ER_SERVER_SHUTDOWN
        1205,  # ER_LOCK_WAIT_TIMEOUT
        1213,  # ER_LOCK_DEADLOCK
        1927,  # ER_CONNECTION_KILLED (MariaDB)
        2002,  # CR_CONNECTION_ERROR
        2003,  # CR_CONN_HOST_ERROR: refused, unreachable, timed out
        2006,  # CR_SERVER_GONE_ERROR
        2013,  # CR_SERVER_LOST
    }
)
# connectorx reports errors as text only: these words mark the passing ones.
TRANSIENT_MESSAGES = (
    "connection refused",
    "connection reset",
    "timed out",
    "broken pipe",
    "server has gone away",
    "lost connection",
    "too many connections",
    "deadlock found",
    "lock wait timeout",
    # connectorx, when the connection breaks mid-read: "IoError { server disconnected }",
    # "CodecError { IO error: `bytes remaining on stream' }"
    "ioerror",
    "io error",
    "server disconnected",
    "connection was killed",
)
# Every session of a source: timestamps in UTC (TIMESTAMP columns are converted to the
# session time zone), and the isolation level that START TRANSACTION WITH CONSISTENT
# SNAPSHOT needs to mean anything.
SESSION_SQL = (
    "SET time_zone = '+00:00'",
    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
)


def connect(creds: MySQLCreds) -> Connection:
    """An autocommit connection in UTC, utf8mb4, REPEATABLE READ; TLS as the creds ask."""
    import pymysql

    try:
        connection = pymysql.connect(**creds.pymysql_kwargs(), autocommit=True)
    except pymysql.Error as exc:
        raise translate(exc, creds, "cannot connect to") from exc
    try:
        with connection.cursor() as cursor:
            for statement in SESSION_SQL:
                cursor.execute(statement)
    except pymysql.Error as exc:
        connection.close()
        raise translate(exc, creds) from exc
    if creds.requires_tls() and not encrypted(connection):
        connection.close()
        raise TerminalError(
            f"MySQL {creds.location()} does not offer TLS, but ssl_mode asks for it: enable "
            "TLS on the server, or set ssl_mode to 'preferred' or 'disabled'"
        )
    return connection


def encrypted(connection: Connection) -> bool:
    """Whether the connection runs over TLS."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cursor.fetchone()
    return bool(row and row[1])


def translate(exc: BaseException, creds: MySQLCreds, doing: str = "") -> StageError:
    """The sluice error for a driver error: one line, no secrets, transient or terminal."""
    text = " ".join(scrub(str(exc), creds.secrets()).split())
    args: tuple[object, ...] = exc.args
    errno = args[0] if args and isinstance(args[0], int) else None
    if errno is not None and len(args) > 1:
        text = f"({errno}) " + " ".join(scrub(str(args[1]), creds.secrets()).split())
    message = f"MySQL {doing + ' ' if doing else ''}{creds.location()}: {text}"
    hint = _HINTS.get(errno) if errno is not None else None
    if hint:
        message += f"; {hint}"
    if errno in TRANSIENT_ERRNOS or (
        errno is None and any(word in text.lower() for word in TRANSIENT_MESSAGES)
    ):
        return TransientError(message)
    return TerminalError(message)


_HINTS = {
    1045: "check the user and password in the source's creds",
    1044: "grant the user access to the database, or fix the database in the creds",
    1049: "fix the database name in the source's creds",
    2003: "check host and port, and that the server is running and reachable",
}
