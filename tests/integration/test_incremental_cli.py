"""Incremental and full semantics of both hops, end to end through the CLI on embedded systems.

What each sink does with each load mode (replace, merge, append, a full load from an
incremental lake) is in tests/conformance/test_sinks.py; here the engine's part (watermarks,
crash windows, hops, type changes, NULL keys) and a failed full load, which stays DuckDB's:
SQLite's sink takes the NULL primary key the case relies on to fail the load.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import Sluice
from tests.integration.sinks import duckdb_table, same_rows, sqlite_table

T1, T2, T3 = "2025-01-01 10:00:00", "2025-01-01 11:00:00", "2025-01-01 12:00:00"


class Shop:
    """A tiny SQLite source with an `events` table keyed by updated_at."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self.connect() as c:
            c.execute(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT, qty INTEGER, "
                "updated_at DATETIME NOT NULL)"
            )

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def insert(self, *rows: tuple[int, str, str]) -> None:
        with self.connect() as c:
            c.executemany(
                "INSERT INTO events (id, v, qty, updated_at) VALUES (?, ?, ?, ?)",
                [(i, v, i * 10, ts) for i, v, ts in rows],
            )

    def update(self, row_id: int, value: str, ts: str) -> None:
        with self.connect() as c:
            c.execute("UPDATE events SET v = ?, updated_at = ? WHERE id = ?", (value, ts, row_id))

    def rows(self) -> pa.Table:
        return sqlite_table(self.path, "events")


@pytest.fixture
def shop(workdir: Path) -> Shop:
    return Shop(workdir / "shop.db")


@pytest.fixture
def setup(sluice: Sluice, workdir: Path, shop: Shop) -> Iterator[Sluice]:
    sluice("init", ok=True)
    sluice(f'source add shop --type sqlite --creds \'{{"path": "{shop.path}"}}\'', ok=True)
    sluice(
        f'destination add wh --type duckdb --creds \'{{"path": "{workdir / "wh.duckdb"}"}}\'',
        ok=True,
    )
    yield sluice


def sink_rows(workdir: Path) -> pa.Table:
    return duckdb_table(workdir / "wh.duckdb", "events")


def stage_rows(sluice: Sluice, run_id: int) -> dict[str, int]:
    shown = sluice(f"runs show {run_id} --json", ok=True).json()
    return {s["stage_type"]: s["rows_processed"] for s in shown["stages"]}


def run(sluice: Sluice, *args: str) -> int:
    result = sluice("run events --json", *args)
    assert result.code == 0, result.out + result.err
    payload = result.json()
    assert payload["status"] == "success"
    return int(payload["id"])


def config_value(workdir: Path, column: str) -> str | None:
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        value = c.execute(
            f"SELECT {column} FROM pipeline_config WHERE source_tablename = 'events'"
        ).fetchone()[0]
    return None if value is None else str(value)


def set_config(workdir: Path, column: str, value: str | None) -> None:
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        c.execute(
            f"UPDATE pipeline_config SET {column} = ? WHERE source_tablename = 'events'", (value,)
        )


def test_rows_at_the_watermark_arriving_later_are_loaded_once(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    setup(
        "table add events --source shop --destination wh --load incremental --key updated_at "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    shop.insert((1, "a", T1), (2, "b", T2), (3, "c", T2))
    first = run(setup)
    assert stage_rows(setup, first)["extract"] == 3
    assert (
        config_value(workdir, "source_to_dl_last_incremental_value") == "2025-01-01T11:00:00.000000"
    )

    # Same key value as the watermark, committed after the run: must not be lost.
    shop.insert((4, "d", T2))
    second = run(setup)
    assert stage_rows(setup, second)["extract"] == 1
    assert stage_rows(setup, second)["load"] == 1

    # Nothing new: no batch, nothing loaded, watermark unchanged.
    third = run(setup)
    assert stage_rows(setup, third)["extract"] == 0
    assert stage_rows(setup, third)["load"] == 0
    assert same_rows(shop.rows(), sink_rows(workdir), ["id"])
    batches = sorted((workdir / "lake/shop/events").glob("batch=*"))
    assert len(batches) == 2


def test_an_empty_first_read_makes_an_empty_sink_table_and_no_watermark(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    """A table configured before its source holds rows: the first hop 1 publishes an empty
    batch (the columns), so hop 2 makes the sink table instead of failing to find one."""
    setup(
        "table add events --source shop --destination wh --load incremental --key updated_at "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    first = run(setup)
    assert stage_rows(setup, first) == dict.fromkeys(
        ["check_source", "extract", "verify_lake", "check_sink", "load", "verify_sink"], 0
    )
    assert sink_rows(workdir).num_rows == 0
    assert sink_rows(workdir).column_names == ["id", "v", "qty", "updated_at"]
    assert config_value(workdir, "source_to_dl_last_incremental_value") is None
    shop.insert((1, "a", T1))
    run(setup)
    assert same_rows(shop.rows(), sink_rows(workdir), ["id"])
    assert len(list((workdir / "lake/shop/events").glob("batch=*"))) == 2


def test_lake_commit_without_config_update_is_not_extracted_twice(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    """A crash between the manifest and the watermark update: the lake's value is taken."""
    setup(
        "table add events --source shop --destination wh --load incremental --key updated_at "
        "--sink-load incremental",
        ok=True,
    )
    shop.insert((1, "a", T1))
    run(setup)
    before = config_value(workdir, "source_to_dl_last_incremental_value")
    shop.insert((2, "b", T2), (3, "c", T2))
    run(setup, "--hop", "source_to_dl")
    set_config(workdir, "source_to_dl_last_incremental_value", before)  # the lost update

    again = run(setup, "--hop", "source_to_dl")
    assert stage_rows(setup, again)["extract"] == 0
    assert (
        config_value(workdir, "source_to_dl_last_incremental_value") == "2025-01-01T11:00:00.000000"
    )
    run(setup, "--hop", "dl_to_sink")
    assert sink_rows(workdir).num_rows == 3


def test_sink_commit_without_config_update_is_not_loaded_twice(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    """A crash between the sink commit and the config update: the sink's state table decides."""
    setup(
        "table add events --source shop --destination wh --load incremental --key updated_at "
        "--sink-load incremental",
        ok=True,
    )
    shop.insert((1, "a", T1), (2, "b", T2))
    run(setup)
    set_config(workdir, "dl_to_sink_last_incremental_value", None)  # the lost update
    again = run(setup, "--hop", "dl_to_sink")
    assert stage_rows(setup, again)["load"] == 0
    assert sink_rows(workdir).num_rows == 2
    assert config_value(workdir, "dl_to_sink_last_incremental_value") == "1"


def test_an_incompatible_type_change_fails_with_both_types(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    setup("table add events --source shop --destination wh --primary-key id", ok=True)
    shop.insert((1, "a", T1))
    run(setup)
    with shop.connect() as c:
        c.executescript(
            "CREATE TABLE e2 (id INTEGER PRIMARY KEY, v TEXT, qty TEXT, updated_at DATETIME);"
            "INSERT INTO e2 SELECT * FROM events; DROP TABLE events;"
            "ALTER TABLE e2 RENAME TO events;"
        )
    result = setup("run events")
    assert result.code == 1
    assert "'qty' changed type from int64 to string" in result.err
    assert sink_rows(workdir).num_rows == 1


def test_one_hop_runs_only_its_stages(setup: Sluice, shop: Shop, workdir: Path) -> None:
    setup("table add events --source shop --destination wh", ok=True)
    shop.insert((1, "a", T1))
    first = setup("run events --hop source_to_dl --json", ok=True).json()
    assert [s["stage_type"] for s in first["stages"]] == ["check_source", "extract", "verify_lake"]
    assert first["total_stages"] == 3 and first["hop"] == "source_to_dl"
    second = setup("run events --hop dl_to_sink --json", ok=True).json()
    assert [s["stage_type"] for s in second["stages"]] == ["check_sink", "load", "verify_sink"]
    files = second["stages"][1]["file_paths"]
    assert len(files) == 1 and files[0].endswith("batch=00000001/part-00000.parquet")
    assert json.loads(json.dumps(files)) == files


def test_a_transaction_committing_late_with_an_old_key_arrives_once(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    setup(
        "table add events --source shop --destination wh --load incremental --key updated_at "
        "--sink-load incremental --primary-key id --lookback 1h",
        ok=True,
    )
    shop.insert((1, "a", T1), (2, "b", T3))
    run(setup)
    late = shop.connect()
    late.execute("BEGIN")
    late.execute("INSERT INTO events VALUES (5, 'late', 50, ?)", (T2,))  # older than the watermark
    assert stage_rows(setup, run(setup))["extract"] == 0  # not committed yet: not visible
    late.execute("COMMIT")
    late.close()
    caught = run(setup)
    assert stage_rows(setup, caught)["extract"] == 1
    assert stage_rows(setup, run(setup))["extract"] == 0
    assert (
        config_value(workdir, "source_to_dl_last_incremental_value") == "2025-01-01T12:00:00.000000"
    )
    assert same_rows(shop.rows(), sink_rows(workdir), ["id"])


def test_a_null_key_fails_by_default_and_a_fallback_column_includes_it(
    setup: Sluice, shop: Shop, workdir: Path
) -> None:
    with shop.connect() as c:
        c.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, edited DATETIME, made DATETIME)")
        c.execute("INSERT INTO notes VALUES (1, ?, ?), (2, NULL, ?)", (T2, T1, T3))
    setup(
        "table add notes --source shop --destination wh --load incremental --key edited "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    failed = setup("run notes")
    assert failed.code == 1
    assert "incremental key 'edited' is NULL in 1 row(s)" in failed.err
    assert "--null-key-fallback" in failed.err
    shown = setup("table show notes --json", ok=True).json()
    assert shown["source_to_dl"]["last_incremental_value"] is None
    setup("table edit notes --null-key-fallback made", ok=True)
    setup("run notes", ok=True)
    shown = setup("table show notes --json", ok=True).json()
    assert shown["source_to_dl"]["last_incremental_value"] == "2025-01-01T12:00:00.000000"
    assert duckdb_table(workdir / "wh.duckdb", "notes").num_rows == 2
