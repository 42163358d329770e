"""All 11 Chinook tables through both hops, driven through the CLI, into SQLite, and what the
CLI reports of those runs. (Into DuckDB and PostgreSQL, from every source with a Chinook dump:
tests/conformance/test_datasets.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.integration.sinks import same_rows, sqlite_table


def chinook_tables() -> dict[str, list[str]]:
    """Table name -> primary key columns, from the database's own catalog."""
    with sqlite3.connect(CHINOOK_SQLITE) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            name: [
                row[1]
                for row in sorted(
                    connection.execute(f'PRAGMA table_info("{name}")'), key=lambda r: r[5]
                )
                if row[5]
            ]
            for name in names
        }


def test_chinook_has_eleven_tables() -> None:
    assert len(chinook_tables()) == 11


def test_every_chinook_table_arrives_identical(sluice: Sluice, workdir: Path) -> None:
    sink_path = workdir / "warehouse.sqlite"
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(f'destination add wh --type sqlite --creds \'{{"path": "{sink_path}"}}\'', ok=True)
    tables = chinook_tables()
    for name, key in tables.items():
        sluice(
            f"table add {name} --source chinook --destination wh --primary-key {','.join(key)}",
            ok=True,
        )
        result = sluice(f"run {name}")
        assert result.code == 0, result.err + result.out
        assert "success" in result.out

    runs = sluice("runs --json --limit 100", ok=True).json()
    assert len(runs) == 11
    assert {r["status"] for r in runs} == {"success"}
    assert {r["triggered_by"] for r in runs} == {"manual"}

    for name, key in tables.items():
        expected = sqlite_table(CHINOOK_SQLITE, name)
        actual = sqlite_table(sink_path, name)
        assert actual.num_rows == expected.num_rows, name
        assert same_rows(expected, actual, key), f"{name} differs"

    listed = {t["source_tablename"]: t for t in sluice("table list --json", ok=True).json()}
    for name in tables:
        for hop in ("source_to_dl", "dl_to_sink"):
            assert listed[name][hop]["last_run_status"] == "success"
            assert listed[name][hop]["last_run_at"] is not None
