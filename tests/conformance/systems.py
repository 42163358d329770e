"""One harness per system: a fresh database and its creds, tables made from a neutral
description, rows read back, and creds that cannot work. A connector joins the conformance
suite with a harness here and one line in test_sources.py or test_sinks.py."""

from __future__ import annotations

import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import psycopg
import pyarrow as pa

# Neutral column types and the edge values every system must carry (row 3: all NULL).
COLUMNS = ("small", "big", "name", "price", "ratio", "flag", "day", "at")
ROWS: list[tuple[Any, ...]] = [
    (1, -2147483648, -9223372036854775808, "", Decimal("-9999999999.99"), -1.5e308, False,
     date(1000, 1, 1), datetime(1000, 1, 1, 0, 0, 0, 1)),
    (2, 2147483647, 9223372036854775807, "ü 日本 🎉 'q' \"d\" \\", Decimal("9999999999.99"),
     1.5e308, True, date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59, 999999)),
    (3, None, None, None, None, None, None, None, None),
    (4, 0, 0, "x", Decimal("0.01"), -0.0, True, date(2024, 2, 29),
     datetime(2024, 2, 29, 12, 0, 0, 123456)),
]  # fmt: skip


class System(ABC):
    """A database system as the suite drives it."""

    type_name: ClassVar[str]
    # DDL per neutral type (after the id), and what a value of each looks like once read.
    ddl: ClassVar[dict[str, str]]
    quote: ClassVar[str] = '"'
    longest_name: ClassVar[int] = 63

    @abstractmethod
    def creds(self) -> dict[str, Any]: ...

    @abstractmethod
    def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
        """(what, creds, a secret that must not appear) that must fail fast."""

    @abstractmethod
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None: ...

    @abstractmethod
    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def tables(self) -> list[str]: ...

    def q(self, name: str) -> str:
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote

    def create(self, table: str, columns: dict[str, str], key: str | None = "id") -> None:
        listed = ", ".join(f"{self.q(c)} {kind}" for c, kind in columns.items())
        primary = f", PRIMARY KEY ({self.q(key)})" if key else ""
        self.execute(f"CREATE TABLE {self.q(table)} ({listed}{primary})")

    def insert(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join([self.marker] * len(columns))
        listed = ", ".join(self.q(c) for c in columns)
        for row in rows:
            self.execute(f"INSERT INTO {self.q(table)} ({listed}) VALUES ({marks})", row)

    marker: ClassVar[str] = "%s"

    def expected(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """A row of ROWS as it reads back from a DuckDB sink after this system's source."""
        return row

    def lake_types(self) -> dict[str, pa.DataType]:
        return {
            "small": pa.int32(), "big": pa.int64(), "name": pa.string(),
            "price": pa.decimal128(12, 2), "ratio": pa.float64(), "flag": pa.bool_(),
            "day": pa.date32(), "at": pa.timestamp("us"),
        }  # fmt: skip


class PostgresSystem(System):
    type_name = "postgres"
    ddl: ClassVar[dict[str, str]] = {
        "id": "integer", "small": "integer", "big": "bigint", "name": "text",
        "price": "numeric(12,2)", "ratio": "double precision", "flag": "boolean",
        "day": "date", "at": "timestamp",
    }  # fmt: skip

    def __init__(self, url: str) -> None:
        self.url = url

    def creds(self) -> dict[str, Any]:
        return {"url": self.url}

    def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
        return [
            ("unreachable", {"host": "127.0.0.1", "port": 1, "user": "u", "password": "pw-9xq",
                             "database": "d"}, "pw-9xq"),
            ("no such database", {"host": "127.0.0.1", "user": "postgres",
                                  "password": "pw-7zk", "database": "sluice_none"}, "pw-7zk"),
        ]  # fmt: skip

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql, params or None)

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as connection:
            return [
                tuple(r)
                for r in connection.execute(f"SELECT * FROM {self.q(table)} ORDER BY {order}")
            ]

    def tables(self) -> list[str]:
        with psycopg.connect(self.url) as connection:
            query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            return [str(r[0]) for r in connection.execute(query)]


class MySQLSystem(System):
    type_name = "mysql"
    quote = "`"
    longest_name = 64
    ddl: ClassVar[dict[str, str]] = {
        "id": "int", "small": "int", "big": "bigint", "name": "text",
        "price": "decimal(12,2)", "ratio": "double", "flag": "tinyint(1)",
        "day": "date", "at": "datetime(6)",
    }  # fmt: skip

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = url.rsplit("/", 1)[1]

    def creds(self) -> dict[str, Any]:
        return {"url": self.url}

    def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
        return [
            ("unreachable", {"host": "127.0.0.1", "port": 1, "user": "u", "password": "pw-9xq",
                             "database": "d"}, "pw-9xq"),
            ("wrong password", {"host": "127.0.0.1", "user": "root", "password": "pw-7zk",
                                "database": self.database}, "pw-7zk"),
        ]  # fmt: skip

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        from tests.services import mysql_admin

        connection = mysql_admin()
        try:
            connection.select_db(self.database)
            yield connection
        finally:
            connection.close()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with self._connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql, params or None)

    def create(self, table: str, columns: dict[str, str], key: str | None = "id") -> None:
        columns = {c: kind + (" CHARACTER SET utf8mb4" if kind == "text" else "")
                   for c, kind in columns.items()}  # fmt: skip
        super().create(table, columns, key)

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        with self._connection() as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {self.q(table)} ORDER BY {order}")
            return [tuple(r) for r in cursor.fetchall()]

    def tables(self) -> list[str]:
        with self._connection() as connection, connection.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            return [str(r[0]) for r in cursor.fetchall()]

    def expected(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        # tinyint(1) is an integer that may hold 2..127: it stays one (docs/connectors/mysql.md).
        flag = None if row[6] is None else int(row[6])
        return (*row[:6], flag, *row[7:])

    def lake_types(self) -> dict[str, pa.DataType]:
        return {**super().lake_types(), "flag": pa.int8()}


class FileSystem(System):
    """An embedded database in a file (SQLite, DuckDB)."""

    longest_name = 120

    def __init__(self, path: Path) -> None:
        self.path = path

    def creds(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
        blocker = self.path.parent / "a_file"
        blocker.write_text("not a folder")
        not_a_database = self.path.parent / "not_a_database.db"
        not_a_database.write_text("text, not a database file " * 100)
        return [
            ("missing folder", {"path": str(self.path.parent / "none" / "x.db")}, ""),
            ("a file where the folder should be", {"path": str(blocker / "x.db")}, ""),
            ("a file that is not a database", {"path": str(not_a_database)}, ""),
        ]


class SQLiteSystem(FileSystem):
    type_name = "sqlite"
    marker = "?"
    ddl: ClassVar[dict[str, str]] = {
        "id": "INTEGER", "small": "INTEGER", "big": "INTEGER", "name": "TEXT",
        "price": "NUMERIC(12,2)", "ratio": "REAL", "flag": "BOOLEAN", "day": "DATE",
        "at": "TIMESTAMP",
    }  # fmt: skip

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        params = tuple(str(p) if isinstance(p, Decimal | date) else p for p in params)
        with sqlite3.connect(self.path) as connection:
            connection.execute(sql, params)

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(f"SELECT * FROM {self.q(table)} ORDER BY {order}").fetchall()

    def tables(self) -> list[str]:
        with sqlite3.connect(self.path) as connection:
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            return [str(r[0]) for r in connection.execute(query)]

    def expected(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        # SQLite stores NUMERIC as REAL or INTEGER: the exact digits were never stored.
        price = None if row[4] is None else float(row[4])
        return (*row[:4], price, *row[5:])

    def lake_types(self) -> dict[str, pa.DataType]:
        return {**super().lake_types(), "small": pa.int64(), "price": pa.float64()}


class DuckDBSystem(FileSystem):
    type_name = "duckdb"
    marker = "?"
    ddl: ClassVar[dict[str, str]] = {}

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with duckdb.connect(str(self.path)) as connection:
            connection.execute(sql, list(params))

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(f"SELECT * FROM {self.q(table)} ORDER BY {order}").fetchall()

    def tables(self) -> list[str]:
        if not self.path.exists():
            return []
        with duckdb.connect(str(self.path), read_only=True) as connection:
            found = connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            return [str(r[0]) for r in found]


def fresh_name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"
