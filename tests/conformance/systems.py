"""One harness per system: a fresh database and its creds, tables made from a neutral
description, rows read back, and creds that cannot work; a source with a dump of a sample
dataset also loads it and lists its keys. A connector joins the conformance suite with a
harness here and one line in test_sources.py or test_sinks.py (and test_datasets.py)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import psycopg
import pyarrow as pa

from tests import bigquery_emulator, snowflake_fake
from tests.conftest import SHARED

# The Chinook sample database, one dump per system (github.com/lerocha/chinook-database).
CHINOOK = SHARED / "datasets" / "chinook"

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
    # Names of the odd-identifiers case: quotes, spaces, mixed case, non-ASCII.
    odd_table: ClassVar[str] = 'Odd "T" ü'
    odd_columns: ClassVar[tuple[str, ...]] = ("id", "Mixed Case", 'quo"te', "ünï", "c" * 60)

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

    # What a source with a dataset dump gives test_datasets.py.
    def load_chinook(self) -> None:
        """Load this system's Chinook dump into its fresh database."""
        raise NotImplementedError(f"no Chinook dump for {self.type_name}")

    def primary_keys(self) -> dict[str, list[str]]:
        """Table -> its primary key's columns in key order, from the system's own catalog."""
        raise NotImplementedError(f"no catalog query for {self.type_name}")

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

    def rows_as_sunk(self, table: str, order: str) -> list[tuple[Any, ...]]:
        """The table's rows as they read back from a sink after this system's source."""
        return self.rows(table, order)

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

    def primary_keys(self) -> dict[str, list[str]]:
        query = (
            "SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
            "WHERE i.indisprimary AND n.nspname = 'public' ORDER BY c.relname, k.position"
        )
        with psycopg.connect(self.url) as connection:
            return _grouped(connection.execute(query))

    def load_chinook(self) -> None:
        script = (CHINOOK / "Chinook_PostgreSql.sql").read_text(encoding="utf-8")
        # The script drops, makes and connects to a database `chinook` first: run only what
        # follows, in ours. No parameters: the simple protocol runs many statements at once.
        self.execute(script.split("\\c chinook;", 1)[1])


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

    def primary_keys(self) -> dict[str, list[str]]:
        with self._connection() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = %s AND INDEX_NAME = 'PRIMARY' "
                "ORDER BY TABLE_NAME, SEQ_IN_INDEX",
                (self.database,),
            )
            return _grouped(cursor.fetchall())

    def load_chinook(self) -> None:
        import pymysql
        from pymysql.constants import CLIENT

        from tests.services import MYSQL_HOST, MYSQL_PORT

        script = (CHINOOK / "Chinook_MySql.sql").read_text(encoding="utf-8")
        # The script drops, makes and uses a database `Chinook`: load it into ours instead.
        script = re.sub(r"(?m)^(DROP DATABASE|CREATE DATABASE|USE) .*`Chinook`;$", "", script)
        loader = pymysql.connect(
            host=MYSQL_HOST, port=MYSQL_PORT, user="root", database=self.database,
            charset="utf8mb4", autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS,
        )  # fmt: skip
        try:
            with loader.cursor() as cursor:
                cursor.execute(script)
                while cursor.nextset():  # each statement's result must be read to run the next
                    pass
        finally:
            loader.close()

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

    def primary_keys(self) -> dict[str, list[str]]:
        with sqlite3.connect(self.path) as connection:
            # table_info's pk is the column's position in the key (0: not in it).
            query = (
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
                "WHERE m.type = 'table' AND p.pk > 0 ORDER BY m.name, p.pk"
            )
            return _grouped(connection.execute(query))

    def load_chinook(self) -> None:
        # SQLite's dump is the database file itself: a copy, so the shared one stays untouched.
        shutil.copyfile(CHINOOK / "Chinook_Sqlite.sqlite", self.path)

    def rows_as_sunk(self, table: str, order: str) -> list[tuple[Any, ...]]:
        # SQLite has no date or time type: a DATETIME, TIMESTAMP or DATE column holds ISO text,
        # which the source parses by the declared type and a sink holds as a timestamp or date.
        with sqlite3.connect(self.path) as connection:
            declared = connection.execute("SELECT upper(type) FROM pragma_table_info(?)", (table,))
            parsers = [_sqlite_time_parser(str(kind)) for (kind,) in declared]
        return [
            tuple(
                v if v is None or parse is None else parse(v)
                for v, parse in zip(row, parsers, strict=True)
            )
            for row in self.rows(table, order)
        ]

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


class SnowflakeSystem(System):
    """Snowflake as its stand-in serves it: fakesnow's server mode (tests/snowflake_fake.py),
    a database of its own per test."""

    type_name = "snowflake"
    marker = "?"
    ddl: ClassVar[dict[str, str]] = {}
    longest_name = 255

    def __init__(self, creds: dict[str, Any]) -> None:
        self._creds = creds

    def creds(self) -> dict[str, Any]:
        return dict(self._creds)

    def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
        return [
            ("wrong password", {**self._creds, "password": "pw-4hx-wrong"}, "pw-4hx-wrong"),
            ("unreachable", {**self._creds, "port": 1}, self._creds["password"]),
            ("no such database", {**self._creds, "database": "SLUICE_NONE"},
             self._creds["password"]),
            ("neither password nor key",
             {k: v for k, v in self._creds.items() if k != "password"}, ""),
        ]  # fmt: skip

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with snowflake_fake.connect(self._creds) as connection:
            connection.cursor().execute(sql, params or None)

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        with snowflake_fake.connect(self._creds) as connection:
            cursor = connection.cursor()
            cursor.execute(f"SELECT * FROM {self.q(table)} ORDER BY {order}")
            return [tuple(row) for row in cursor.fetchall()]

    def tables(self) -> list[str]:
        with snowflake_fake.connect(self._creds) as connection:
            cursor = connection.cursor()
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'PUBLIC'"
            )
            return [str(row[0]) for row in cursor.fetchall()]


class BigQuerySystem(System):
    """BigQuery as its stand-in serves it: bqemulator (tests/bigquery_emulator.py), a dataset
    of its own per test."""

    type_name = "bigquery"
    marker = "?"
    quote = "`"
    ddl: ClassVar[dict[str, str]] = {}
    # BigQuery allows no '"' in a name; the emulator also refuses spaces and non-ASCII
    # letters in table names (BigQuery takes them), so the table's oddity is in its columns.
    odd_table = "Odd-T_x"
    odd_columns = ("id", "Mixed Case", "quo'te", "ünï", "c" * 60)

    def __init__(self, creds: dict[str, Any]) -> None:
        self._creds = creds

    def q(self, name: str) -> str:
        from sluice.connectors.bigquery.sql import quote

        return quote(name)

    def creds(self) -> dict[str, Any]:
        return dict(self._creds)

    def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
        key = '{"type": "service_account", "private_key": "sa-key-7qz"}'
        return [
            ("unreachable", {**self._creds, "api_endpoint": "http://127.0.0.1:1"}, ""),
            ("no such dataset", {**self._creds, "dataset": "sluice_none"}, ""),
            ("not a service account key",
             {k: v for k, v in self._creds.items() if k != "anonymous"}
             | {"service_account": key}, "sa-key-7qz"),
            ("not a project id", {**self._creds, "project": "My Project"}, ""),
        ]  # fmt: skip

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        from sluice.connectors.bigquery.sql import bind

        bigquery_emulator.rows(self._creds, bind(sql, params))

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        return bigquery_emulator.rows(
            self._creds, f"SELECT * FROM {self.q(table)} ORDER BY {order}"
        )

    def tables(self) -> list[str]:
        found = bigquery_emulator.rows(
            self._creds,
            f"SELECT table_name FROM `{bigquery_emulator.PROJECT}.{self._creds['dataset']}`"
            ".INFORMATION_SCHEMA.TABLES",
        )
        return [str(row[0]) for row in found]


def _sqlite_time_parser(declared: str) -> Callable[[str], date | datetime] | None:
    if "DATETIME" in declared or "TIMESTAMP" in declared:
        return datetime.fromisoformat
    if "DATE" in declared:
        return date.fromisoformat
    return None


def _grouped(pairs: Iterable[tuple[Any, ...]]) -> dict[str, list[str]]:
    """(table, column) pairs, in order, as table -> columns."""
    grouped: dict[str, list[str]] = {}
    for table, column in pairs:
        grouped.setdefault(str(table), []).append(str(column))
    return grouped


def fresh_name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"
