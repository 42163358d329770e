"""Snowflake's stand-in: fakesnow's server mode (the Snowflake REST protocol over HTTP, DuckDB
behind it), started in the test process, so the sink runs its production code path through
the real `snowflake-connector-python` driver.

Where fakesnow differs from Snowflake in ways the sink would trip on, the stand-in is made
more faithful here, never the sink changed for it:
- a login with another password than the account's is refused as Snowflake refuses it
  (fakesnow accepts any); a key-pair login (a JWT the driver signed) is let in unverified;
- NULL timestamps are sent as NULL (fakesnow sends 1970-01-01 with the validity lost);
- `CREATE OR REPLACE TABLE ... CLONE ... COPY GRANTS` replaces the table and keeps the
  primary key (fakesnow cannot parse COPY GRANTS, has no grants, and its CLONE neither
  replaces nor keeps the key);
- a NOT NULL violation is an error (fakesnow answered HTTP 500, which the driver retries);
- COPY INTO a table whose name holds a space or a quote works (fakesnow left it unquoted);
- MATCH_BY_COLUMN_NAME = CASE_SENSITIVE matches lower-case names (fakesnow matched none).
What it still cannot show is listed in docs/connectors/snowflake.md.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

import pyarrow as pa

PASSWORD = "snow-pw-5kq"
_lock = threading.Lock()
_server: dict[str, Any] | None = None
_CLONE = re.compile(
    r"^CREATE\s+OR\s+REPLACE\s+TABLE\s+(.+?)\s+CLONE\s+(.+?)(?:\s+COPY\s+GRANTS)?$",
    re.IGNORECASE | re.DOTALL,
)


def server() -> dict[str, Any]:
    """Connection options of the stand-in this process started (on first use)."""
    global _server
    with _lock:
        if _server is None:
            _server = _start()
        return _server


def _start() -> dict[str, Any]:
    """The stand-in in a process of its own (its warnings and threads stay out of the
    tests'), stopped when this process exits."""
    import atexit
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    # fakesnow keeps staged files in a folder of its own under TMPDIR and never removes it.
    scratch = tempfile.mkdtemp(prefix="sluice-fakesnow-")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.snowflake_fake"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "TMPDIR": scratch},
        stdout=subprocess.PIPE,
        text=True,
    )

    def stop() -> None:
        process.kill()
        process.wait()
        shutil.rmtree(scratch, ignore_errors=True)

    atexit.register(stop)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"the fakesnow stand-in did not start (it said {line!r})")
    return {
        "user": "fake",
        "account": "fakesnow",
        "host": "127.0.0.1",
        "port": int(line.split()[1]),
        "protocol": "http",
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    }


def _serve() -> None:
    """fakesnow's app, made more faithful, on a free port (printed first) until killed."""
    import socket
    import time
    import warnings

    import uvicorn

    fake_server = _fakesnow_server()

    warnings.simplefilter("ignore")
    _make_faithful()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(fake_server.app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="fakesnow", daemon=True)
    thread.start()
    while not running.started:
        if not thread.is_alive():
            raise SystemExit("the fakesnow server stopped while starting")
        time.sleep(0.05)
    print(f"PORT {port}", flush=True)
    thread.join()


def fresh_database() -> dict[str, Any]:
    """Creds of a new database (with schema PUBLIC) on the stand-in."""
    import snowflake.connector

    options = server()
    database = f"SLUICE_{uuid.uuid4().hex[:10].upper()}"
    with snowflake.connector.connect(**_login(options)) as connection:
        connection.cursor().execute(f"CREATE DATABASE {database}")
        connection.cursor().execute(f"CREATE SCHEMA {database}.PUBLIC")
    return {
        "account": "fakesnow",
        "user": "LOADER",
        "password": PASSWORD,
        "database": database,
        "schema": "PUBLIC",
        "host": options["host"],
        "port": options["port"],
        "protocol": "http",
    }


def connect(creds: dict[str, Any]) -> Any:
    """A driver connection as the creds say (for reading back what the sink wrote)."""
    import snowflake.connector

    return snowflake.connector.connect(
        account=creds["account"],
        user=creds["user"],
        password=creds["password"],
        database=creds["database"],
        schema=creds["schema"],
        host=creds["host"],
        port=creds["port"],
        protocol="http",
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    )


def _login(options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "password": PASSWORD}


def _make_faithful() -> None:
    import fakesnow.arrow
    import fakesnow.copy_into
    import fakesnow.cursor
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    fake_server = _fakesnow_server()
    original_login = fake_server.login_request

    async def login(request: Request) -> JSONResponse:
        import gzip
        import json

        body = await request.body()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        data = json.loads(body)["data"]
        key_pair = data.get("AUTHENTICATOR") == "SNOWFLAKE_JWT" and data.get("TOKEN")
        if not key_pair and data.get("PASSWORD") != PASSWORD:
            return JSONResponse(
                {
                    "data": {"nextAction": "RETRY_LOGIN", "authnMethod": "USERNAME_PASSWORD"},
                    "code": "390100",
                    "message": "Incorrect username or password was specified.",
                    "success": False,
                }
            )
        _forget_missing_database(request)
        response: JSONResponse = await original_login(request)
        return response

    for route in fake_server.app.router.routes:
        if isinstance(route, Route) and route.path == "/session/v1/login-request":
            route.endpoint = login
            route.app = _request_response(login)

    fakesnow.arrow.timestamp_to_sf_struct = _timestamp_struct
    fakesnow.copy_into._describe_table = _describe_table
    fakesnow.copy_into._get_table_columns = _table_columns
    original_execute = fakesnow.cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        import duckdb
        import snowflake.connector

        clone = _CLONE.match(command.strip())
        try:
            if clone is None:
                return original_execute(self, command, *args, **kwargs)
            return _clone(self, original_execute, clone.group(1), clone.group(2))
        except duckdb.ConstraintException as exc:
            # Snowflake answers a NOT NULL violation with an error, not an HTTP 500.
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"NULL result in a non-nullable column ({exc})",
                errno=100072,
                sqlstate="22000",
            ) from None

    fakesnow.cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


def _clone(cursor: Any, execute: Any, target: str, source: str) -> Any:
    """CREATE OR REPLACE TABLE target CLONE source [COPY GRANTS] as Snowflake does it: the
    target replaced by a copy of the source with its primary key (fakesnow's CLONE is
    CREATE TABLE AS, without OR REPLACE or the key). Not atomic here."""
    execute(cursor, f"SHOW PRIMARY KEYS IN TABLE {source}")
    rows = sorted(cursor.fetchall(), key=lambda row: int(row[5]))
    execute(cursor, f"DROP TABLE IF EXISTS {target}")
    execute(cursor, f"CREATE TABLE {target} CLONE {source}")
    if rows:
        keys = ", ".join('"' + str(row[4]).replace('"', '""') + '"' for row in rows)
        execute(cursor, f"ALTER TABLE {target} ADD PRIMARY KEY ({keys})")
    return execute(cursor, "SELECT 'Table successfully created.' AS status")


def _table_columns(
    table: Any, duck_conn: Any, current_database: str | None, current_schema: str | None
) -> list[str]:
    """The target's column names as they are: fakesnow upper-cased them, so MATCH_BY_COLUMN_NAME
    = CASE_SENSITIVE matched no lower-case column and loaded NULLs without a word."""
    return [name for name, _ in _describe_table(table, duck_conn, current_database, current_schema)]


def _describe_table(
    table: Any, duck_conn: Any, current_database: str | None, current_schema: str | None
) -> list[tuple[str, str]]:
    """fakesnow's COPY INTO reads its target's columns with the name's parts quoted (it
    left them bare, so a name with a space or a quote broke the statement)."""
    parts = [table.catalog or current_database, table.db or current_schema, table.name]
    qualified = ".".join('"' + str(part).replace('"', '""') + '"' for part in parts)
    return [(row[0], row[1]) for row in duck_conn.execute(f"DESCRIBE {qualified}").fetchall()]


def _fakesnow_server() -> Any:
    """fakesnow's server module (its package exports a function of the same name)."""
    import importlib

    return importlib.import_module("fakesnow.server")


def _forget_missing_database(request: Any) -> None:
    """Snowflake logs a session in without a current database when the one asked for does
    not exist (fakesnow would take any name): the query string loses it and its schema."""
    from urllib.parse import parse_qsl, urlencode

    query = dict(parse_qsl(request.scope["query_string"].decode()))
    name = query.get("databaseName")
    if name is None:
        return
    known = (
        _fakesnow_server()
        .shared_fs.duck_conn.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE upper(database_name) = upper(?)", [name]
        )
        .fetchone()
    )
    if known and known[0]:
        return
    query.pop("databaseName")
    query.pop("schemaName", None)
    request.scope["query_string"] = urlencode(query).encode()
    request.__dict__.pop("_query_params", None)


def _request_response(endpoint: Any) -> Any:
    from starlette.routing import request_response

    return request_response(endpoint)


def _timestamp_struct(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """fakesnow's struct of (epoch, fraction[, timezone]) with the NULLs kept, and any unit."""
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    import numpy as np

    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[ts.type.unit]
    values = ts.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    whole = np.floor_divide(values, per_second)
    fraction = ((values - whole * per_second) * (1_000_000_000 // per_second)).astype(np.int32)
    arrays = [pa.array(whole, pa.int64()), pa.array(fraction, pa.int32())]
    fields = [
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("fraction", pa.int32(), nullable=False),
    ]
    if ts.type.tz:
        arrays.append(pa.array(np.full(len(values), 1440, np.int32)))
        fields.append(pa.field("timezone", pa.int32(), nullable=False))
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=ts.is_null())


if __name__ == "__main__":
    _serve()
