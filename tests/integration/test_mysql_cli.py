"""The MySQL source driven through the CLI: all 11 Chinook tables from MariaDB through both
hops into DuckDB and PostgreSQL, every row compared with what MariaDB holds; incremental runs
from the watermark with a NULL-key fallback."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import SHARED, Sluice
from tests.services import MYSQL_HOST, MYSQL_PORT, mysql_admin

pytestmark = [pytest.mark.mysql, pytest.mark.postgres, pytest.mark.slow]

CHINOOK_MYSQL = SHARED / "datasets" / "chinook" / "Chinook_MySql.sql"


@pytest.fixture(scope="module")
def chinook_mysql() -> Iterator[str]:
    """Chinook loaded into a database of its own; yields its name."""
    from pymysql.constants import CLIENT

    name = f"sluice_chinook_{uuid.uuid4().hex[:8]}"
    script = CHINOOK_MYSQL.read_text(encoding="utf-8")
    # The script makes and uses a database called Chinook: load it into ours instead.
    script = re.sub(r"(?m)^(DROP DATABASE|CREATE DATABASE|USE) .*`Chinook`;$", "", script)
    admin = mysql_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        loader = type(admin)(
            host=MYSQL_HOST,
            port=MYSQL_PORT,
            user="root",
            database=name,
            charset="utf8mb4",
            autocommit=True,
            client_flag=CLIENT.MULTI_STATEMENTS,
        )
        with loader.cursor() as cursor:
            cursor.execute(script)
            while cursor.nextset():
                pass
        loader.close()
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def mariadb_tables(database: str) -> dict[str, list[str]]:
    """Table name -> primary key columns, from MariaDB's own catalog."""
    admin = mysql_admin()
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT t.TABLE_NAME, s.COLUMN_NAME FROM information_schema.TABLES t "
            "LEFT JOIN information_schema.STATISTICS s ON s.TABLE_SCHEMA = t.TABLE_SCHEMA "
            "AND s.TABLE_NAME = t.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY' "
            "WHERE t.TABLE_SCHEMA = %s ORDER BY t.TABLE_NAME, s.SEQ_IN_INDEX",
            (database,),
        )
        keys: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            keys.setdefault(str(table), []).append(str(column))
    admin.close()
    return keys


def mariadb_rows(database: str, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    admin = mysql_admin()
    with admin.cursor() as cursor:
        cursor.execute(f"SELECT * FROM `{database}`.`{table}`")
        names = [column[0] for column in cursor.description]
        rows = sorted(tuple(row) for row in cursor.fetchall())
    admin.close()
    return names, rows


def sink_rows(kind: str, where: str, table: str, names: list[str]) -> list[tuple[Any, ...]]:
    listed = ", ".join(f'"{name}"' for name in names)
    if kind == "duckdb":
        with duckdb.connect(where, read_only=True) as connection:
            found = connection.sql(f'SELECT {listed} FROM "{table}"').fetchall()
    else:
        with psycopg.connect(where) as connection:
            found = connection.execute(f'SELECT {listed} FROM "{table}"').fetchall()
    return sorted(tuple(row) for row in found)


@pytest.mark.parametrize("sink_type", ["duckdb", "postgres"])
def test_every_chinook_table_arrives_identical(
    sluice: Sluice, workdir: Path, chinook_mysql: str, pg_target: str, sink_type: str
) -> None:
    tables = mariadb_tables(chinook_mysql)
    assert len(tables) == 11
    source = {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "database": chinook_mysql}
    sink = {"path": str(workdir / "wh.duckdb")} if sink_type == "duckdb" else {"url": pg_target}
    sluice("init", ok=True)
    sluice(f"source add chinook --type mysql --creds '{json.dumps(source)}'", ok=True)
    sluice(f"destination add wh --type {sink_type} --creds '{json.dumps(sink)}'", ok=True)
    for name, key in tables.items():
        sluice(
            f"table add {name} --source chinook --destination wh --primary-key {','.join(key)}",
            ok=True,
        )
        ran = sluice(f"run {name} --json")
        assert ran.json()["status"] == "success", (name, ran.json()["error_message"])

    where = sink["path"] if sink_type == "duckdb" else pg_target
    for name in tables:
        names, expected = mariadb_rows(chinook_mysql, name)
        assert expected, name
        assert sink_rows(sink_type, where, name, names) == expected, f"{name} in {sink_type}"


def test_incremental_runs_read_from_the_watermark_with_a_fallback_key(
    sluice: Sluice, workdir: Path, mysql_database: str
) -> None:
    from tests.integration.test_mysql_source import database_of, run

    db = database_of(mysql_database)
    run(db, "CREATE TABLE events (id int PRIMARY KEY, v varchar(10), "
        "created datetime(6) NOT NULL, updated datetime(6) NULL)",
        "INSERT INTO events VALUES (1, 'a', '2025-01-01 10:00:00', NULL), "
        "(2, 'b', '2025-01-01 09:00:00', '2025-01-01 11:00:00.5')")  # fmt: skip
    duck = workdir / "wh.duckdb"
    sluice("init", ok=True)
    sluice(f"source add my --type mysql --creds '{json.dumps({'url': mysql_database})}'", ok=True)
    sluice(f"destination add wh --type duckdb --creds '{json.dumps({'path': str(duck)})}'", ok=True)
    sluice(
        "table add events --source my --destination wh --load incremental --key updated "
        "--null-key-fallback created --sink-load incremental --primary-key id",
        ok=True,
    )

    def extracted() -> int:
        ran = sluice("run events --json")
        assert ran.json()["status"] == "success", ran.json()["error_message"]
        shown = sluice(f"runs show {ran.json()['id']} --json", ok=True).json()
        return int({s["stage_type"]: s["rows_processed"] for s in shown["stages"]}["extract"])

    assert extracted() == 2
    # At the watermark (11:00:00.5, row 2's) and after it, by key or by fallback: read again;
    # row 1 (10:00, by its fallback) is below it and is not.
    run(db, "INSERT INTO events VALUES (3, 'c', '2025-01-01 11:00:00.5', NULL), "
        "(4, 'd', '2024-01-01 00:00:00', '2025-01-02 00:00:00')")  # fmt: skip
    assert extracted() == 2
    assert extracted() == 0
    expected = sorted(tuple(row) for row in run(db, "SELECT id, v FROM events"))
    with duckdb.connect(str(duck), read_only=True) as connection:
        assert sorted(connection.sql("SELECT id, v FROM events").fetchall()) == expected


def test_the_zero_date_policy_is_the_tables_own(
    sluice: Sluice, workdir: Path, mysql_database: str
) -> None:
    from tests.integration.test_mysql_source import database_of, run

    run(database_of(mysql_database), "SET SESSION sql_mode = ''",
        "CREATE TABLE legacy (id int PRIMARY KEY, born date)",
        "INSERT INTO legacy VALUES (1, '1990-04-01'), (2, '0000-00-00')")  # fmt: skip
    duck = workdir / "wh.duckdb"
    sluice("init", ok=True)
    sluice(f"source add my --type mysql --creds '{json.dumps({'url': mysql_database})}'", ok=True)
    sluice(f"destination add wh --type duckdb --creds '{json.dumps({'path': str(duck)})}'", ok=True)
    refused = sluice("table add legacy --source my --destination wh --zero-dates maybe")
    assert refused.code != 0
    assert "zero-date policy 'maybe' is not known: use `fail`" in refused.err
    sluice("table add legacy --source my --destination wh --primary-key id", ok=True)
    assert sluice("table show legacy --json", ok=True).json()["zero_dates"] == "fail"

    failed = sluice("run legacy --json").json()
    assert failed["status"] == "failed"
    assert "column 'born' (date)" in failed["error_message"]
    assert "`sluice table edit legacy --zero-dates null`" in failed["error_message"]
    assert not duck.exists() or "legacy" not in duckdb_tables(duck)

    sluice("table edit legacy --zero-dates null", ok=True)
    assert sluice("table show legacy --json", ok=True).json()["zero_dates"] == "null"
    ran = sluice("run legacy --json", ok=True).json()
    assert ran["status"] == "success", ran["error_message"]
    stages = sluice(f"runs show {ran['id']} --json", ok=True).json()["stages"]
    [extract] = [stage for stage in stages if stage["stage_type"] == "extract"]
    database = database_of(mysql_database)
    assert extract["warnings"] == [
        f"1 zero date(s) in column 'born' of `{database}`.`legacy` read as NULL "
        "(zero-date policy null)"
    ]
    with duckdb.connect(str(duck), read_only=True) as connection:
        got = connection.sql("SELECT id, born FROM legacy ORDER BY id").fetchall()
    assert [(i, str(b) if b else None) for i, b in got] == [(1, "1990-04-01"), (2, None)]
    # '' restores the default.
    sluice("table edit legacy --zero-dates ''", ok=True)
    assert sluice("table show legacy --json", ok=True).json()["zero_dates"] == "fail"


def duckdb_tables(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {str(row[0]) for row in connection.sql("SHOW TABLES").fetchall()}
