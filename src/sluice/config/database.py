"""Opening the config database: SQLite by default (WAL, busy timeout), PostgreSQL by URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from sluice.config.store import READ_ONLY
from sluice.core.errors import ConfigError

DEFAULT_CONFIG_DB_PATH = Path("databases/config_db/data/config.db")
ENV_CONFIG_DB = "SLUICE_CONFIG_DB"
# Long enough for a burst of concurrent runs to queue on SQLite's single writer lock.
SQLITE_BUSY_TIMEOUT_S = 60.0


def resolve_url(raw: str | None) -> str:
    """Turn --config-db / SLUICE_CONFIG_DB / the default into a SQLAlchemy URL.

    A bare path means a SQLite file; postgresql:// URLs use psycopg 3.
    """
    value = raw or os.environ.get(ENV_CONFIG_DB) or str(DEFAULT_CONFIG_DB_PATH)
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser()}"
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ConfigError(
            f"config database URL is malformed: {exc}; "
            "use sqlite:///PATH, a file path, or postgresql://USER@HOST:PORT/DB"
        ) from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"config database backend {url.get_backend_name()!r} is not supported: "
            "use SQLite (a file path) or PostgreSQL (postgresql://...)"
        )
    return url.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file_missing(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def sqlite_file_empty(url: str) -> Path | None:
    """The file of a SQLite URL when it exists and holds nothing (0 bytes)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return path if path.is_file() and path.stat().st_size == 0 else None


def create_config_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level so the BEGIN below is the only transaction control.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail with "database is locked" instead of waiting its turn. A read-only
        # one (Store.read) begins deferred: a WAL reader that never blocks a writer.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
