"""Every sink passes the same cases, loaded through the CLI from a SQLite source file.

One line per sink below; its harness is in systems.py. The cases: every neutral type with
edge values, NULLs everywhere, an empty table, odd identifiers, a full replace (the newest
snapshot: rows removed at the source disappear, changed ones change), a merge on the primary
key (from an incremental or a full lake), a full load from an incremental lake (the newest
version of each key), an append without a key (each row version once, also when a column was
added since), an added column (earlier rows NULL), a load the sink refuses (the live table as
it was), the leftovers of a load killed inside its transaction (the next run succeeds and
leaves no staging table), and bad creds failing fast in one line.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.conftest import assert_bad_creds_fail_fast, configure, make_system
from tests.conformance.systems import COLUMNS, ROWS, SQLiteSystem, System
from tests.conftest import Sluice
from tests.processes import sluice_process

SINKS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("snowflake", id="snowflake"),  # fakesnow's server (tests/snowflake_fake.py)
    pytest.param("bigquery", id="bigquery"),  # bqemulator (tests/bigquery_emulator.py)
]


@pytest.fixture(params=SINKS)
def sink(request: pytest.FixtureRequest, workdir: Path) -> System:
    return make_system(str(request.param), request, workdir, role="sink")


@pytest.fixture
def source(workdir: Path) -> SQLiteSystem:
    return SQLiteSystem(workdir / "source.sqlite")


def _as_stored(sink: System, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A source row as the sink holds it: SQLite keeps booleans as 0/1 and dates as ISO text
    (sluice writes them so); the others keep the types."""
    if sink.type_name != "sqlite":
        return row
    return tuple(
        int(v) if isinstance(v, bool)
        else v.isoformat(timespec="microseconds") if isinstance(v, datetime)
        else v.isoformat() if isinstance(v, date)
        else v
        for v in row
    )  # fmt: skip


def _run(sluice: Sluice, table: str) -> dict[str, int]:
    """Run `table`; the rows each stage processed (what the sink says it loaded, for one)."""
    payload = sluice(f"run {table} --json", ok=True).json()
    return {stage["stage_type"]: stage["rows_processed"] for stage in payload["stages"]}


def test_every_type_and_edge_value_arrives(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("edge", {c: source.ddl[c] for c in ("id", *COLUMNS)})
    source.insert("edge", ["id", *COLUMNS], ROWS)
    configure(sluice, source, sink)
    sluice("table add edge --source src --destination dst --primary-key id", ok=True)
    sluice("run edge", ok=True)
    expected = [_as_stored(sink, source.expected(row)) for row in ROWS]
    assert sink.rows("edge", "id") == expected


def test_an_empty_table_arrives_empty(sluice: Sluice, source: SQLiteSystem, sink: System) -> None:
    """Loaded whole, and merged (an incremental table's first batch, empty as well)."""
    source.create("nothing", {"id": "INTEGER", "name": "TEXT"})
    source.create("none_yet", {"id": "INTEGER", "name": "TEXT"})
    configure(sluice, source, sink)
    sluice("table add nothing --source src --destination dst --primary-key id", ok=True)
    sluice(
        "table add none_yet --source src --destination dst --primary-key id "
        "--load incremental --key id --sink-load incremental",
        ok=True,
    )
    sluice("run nothing", ok=True)
    sluice("run none_yet", ok=True)
    assert sink.rows("nothing", "id") == []
    assert sink.rows("none_yet", "id") == []


def test_odd_identifiers_arrive_as_they_are(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    table, names = sink.odd_table, list(sink.odd_columns)
    source.create(table, {n: "INTEGER" if n == "id" else "TEXT" for n in names})
    rows = [(1, "a", "b", "c", "d"), (2, None, "", "🎉", None)]
    source.insert(table, names, rows)
    configure(sluice, source, sink)
    options = ["--source", "src", "--destination", "dst", "--primary-key", "id"]
    sluice("table add", table, *options, ok=True)
    sluice("run", table, ok=True)
    assert sink.rows(table, sink.q("id")) == rows


def test_a_full_replace_takes_the_newest_snapshot(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(1, "a"), (2, "b"), (3, "c")])
    configure(sluice, source, sink)
    sluice("table add t --source src --destination dst --primary-key id", ok=True)
    sluice("run t", ok=True)
    source.execute("DELETE FROM t WHERE id = 2")
    source.execute("UPDATE t SET name = 'c2' WHERE id = 3")
    assert _run(sluice, "t")["load"] == 2
    assert sink.rows("t", "id") == [(1, "a"), (3, "c2")]


def test_a_load_the_sink_refuses_leaves_the_live_table_as_it_was(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"}, key=None)
    source.insert("t", ["id", "name"], [(1, "a"), (2, "b")])
    configure(sluice, source, sink)
    sluice("table add t --source src --destination dst --primary-key name", ok=True)
    sluice("run t", ok=True)
    # A NULL in the configured key: hop 1 takes it, the sink's PRIMARY KEY refuses it (SQLite
    # too: its key columns are declared NOT NULL, which SQLite would not imply).
    source.insert("t", ["id", "name"], [(3, None)])
    failed = sluice("run t --json").json()
    assert failed["status"] == "failed"
    assert failed["stages"][-1]["stage_type"] == "load"
    assert failed["error_message"].startswith("load:")
    assert sink.rows("t", "id") == [(1, "a"), (2, "b")]


# The lake a merge reads: incremental batches, or a whole snapshot each run.
MERGE_FROM = {
    "incremental-lake": "--load incremental --key at",
    "full-lake": "",
}


@pytest.mark.parametrize("lake", list(MERGE_FROM))
def test_a_merge_updates_rows_in_place_and_adds_new_ones(
    sluice: Sluice, source: SQLiteSystem, sink: System, lake: str
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT", "at": "TIMESTAMP"})
    source.insert("t", ["id", "name", "at"], [(1, "a", "2024-01-01 00:00:00"),
                                                (2, "b", "2024-01-01 00:00:01")])  # fmt: skip
    configure(sluice, source, sink)
    sluice(
        f"table add t --source src --destination dst --primary-key id {MERGE_FROM[lake]} "
        "--sink-load incremental",
        ok=True,
    )
    sluice("run t", ok=True)
    source.execute("UPDATE t SET name = 'a2', at = '2024-01-02 00:00:00' WHERE id = 1")
    # A new row in the same run as the update: the merge inserts one and updates the other.
    source.insert("t", ["id", "name", "at"], [(3, "c", "2024-01-01 12:00:00")])
    sluice("run t", ok=True)
    expected = [
        (1, "a2", datetime(2024, 1, 2)),
        (2, "b", datetime(2024, 1, 1, 0, 0, 1)),
        (3, "c", datetime(2024, 1, 1, 12)),
    ]
    assert sink.rows("t", "id") == [_as_stored(sink, row) for row in expected]


def test_a_full_load_from_an_incremental_lake_keeps_the_newest_of_each_key(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    """Each full load reads every batch of the lake, where a key has a version per update."""
    source.create("t", {"id": "INTEGER", "name": "TEXT", "at": "TIMESTAMP"})
    source.insert("t", ["id", "name", "at"], [(1, "a", "2024-01-01 00:00:00"),
                                                (2, "b", "2024-01-01 00:00:00")])  # fmt: skip
    configure(sluice, source, sink)
    sluice(
        "table add t --source src --destination dst --primary-key id --load incremental "
        "--key at --sink-load full",
        ok=True,
    )
    sluice("run t", ok=True)
    for name, at in (("a2", "2024-01-02 00:00:00"), ("a3", "2024-01-03 00:00:00")):
        source.execute(f"UPDATE t SET name = '{name}', at = '{at}' WHERE id = 1")
        sluice("run t", ok=True)
    expected = [(1, "a3", datetime(2024, 1, 3)), (2, "b", datetime(2024, 1, 1))]
    assert sink.rows("t", "id") == [_as_stored(sink, row) for row in expected]


def test_an_append_without_a_key_adds_each_row_version_once(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("log", {"id": "INTEGER", "line": "TEXT", "n": "INTEGER"}, key=None)
    source.insert("log", ["id", "line", "n"], [(1, "a", 1), (2, "a", 2)])
    configure(sluice, source, sink)
    sluice(
        "table add log --source src --destination dst --load incremental --key n "
        "--sink-load incremental",
        ok=True,
    )
    sluice("run log", ok=True)
    # n = 2 is the watermark: row 2 is read again and must not be appended again; row 3,
    # new at that same n, must be.
    source.insert("log", ["id", "line", "n"], [(3, "c", 2), (4, "b", 3)])
    source.execute("UPDATE log SET line = 'a2', n = 4 WHERE id = 1")  # a new version of row 1
    sluice("run log", ok=True)
    assert _run(sluice, "log")["load"] == 0  # nothing new: nothing appended
    expected = [(1, "a", 1), (2, "a", 2), (3, "c", 2), (4, "b", 3), (1, "a2", 4)]
    assert sink.rows("log", "n, id") == expected


def test_an_append_after_an_added_column_holds_the_watermark_rows_once(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    """The rows at the watermark are read again; with the new column NULL they are the rows
    already held, not new versions to append."""
    source.create("log", {"id": "INTEGER", "n": "INTEGER"}, key=None)
    source.insert("log", ["id", "n"], [(1, 1), (2, 2)])
    configure(sluice, source, sink)
    sluice(
        "table add log --source src --destination dst --load incremental --key n "
        "--sink-load incremental",
        ok=True,
    )
    sluice("run log", ok=True)
    source.execute("ALTER TABLE log ADD COLUMN note TEXT")
    source.insert("log", ["id", "n", "note"], [(3, 3, "x")])
    sluice("run log", ok=True)
    assert sink.rows("log", "n") == [(1, 1, None), (2, 2, None), (3, 3, "x")]


def test_an_added_column_arrives_with_earlier_rows_null(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(1, "a")])
    configure(sluice, source, sink)
    sluice(
        "table add t --source src --destination dst --primary-key id --load incremental "
        "--key id --sink-load incremental",
        ok=True,
    )
    sluice("run t", ok=True)
    source.execute("ALTER TABLE t ADD COLUMN price REAL")
    source.insert("t", ["id", "name", "price"], [(2, "b", 1.5)])
    sluice("run t", ok=True)
    assert sink.rows("t", "id") == [(1, "a", None), (2, "b", 1.5)]


def test_a_load_killed_inside_its_transaction_leaves_nothing_behind(
    sluice: Sluice, workdir: Path, source: SQLiteSystem, sink: System
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(n, f"row {n}") for n in range(1, 101)])
    # Configured in this process; the killed run, in a child of its own.
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps(source.creds()), ok=True)
    creds = json.dumps(sink.creds())
    sluice(f"destination add dst --type {sink.type_name} --creds", creds, ok=True)
    sluice(
        "table add t --source src --destination dst --primary-key id "
        "--load incremental --key id --sink-load incremental",
        ok=True,
    )
    killed = sluice_process(workdir, "run", "t", crash_at="load:inside_transaction")
    assert killed.returncode != 0
    # Killed inside the load's transaction: none of its rows, nothing half-built shows; what
    # it built beside the table before that transaction is left for the next load to drop.
    assert "t" not in sink.tables() or sink.rows("t", "id") == []
    assert [name for name in sink.tables() if name.startswith("__sluice")] != []
    sluice("run t", ok=True)
    assert len(sink.rows("t", "id")) == 100
    assert [name for name in sink.tables() if name.startswith("__sluice")] == []


def test_bad_creds_fail_fast_in_one_line_without_the_secret(sluice: Sluice, sink: System) -> None:
    assert_bad_creds_fail_fast(sluice, "destination", sink)
