"""The MySQL source driven through the CLI: incremental runs from the watermark with a NULL-key
fallback. (Chinook from MariaDB into each sink: tests/conformance/test_datasets.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Sluice

pytestmark = [pytest.mark.mysql, pytest.mark.slow]


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
