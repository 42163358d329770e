"""Every sink passes the same cases, loaded through the CLI from a SQLite source file.

One line per sink below; its harness is in systems.py. The cases: every neutral type with
edge values, NULLs everywhere, an empty table, odd identifiers, a full replace (rows removed
at the source disappear), a merge on the primary key, an append without one, an added
column (earlier rows NULL), the leftovers of a load killed inside its transaction (the next
run succeeds and leaves no staging table), and bad creds failing fast in one line.
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
    source.create("nothing", {"id": "INTEGER", "name": "TEXT"})
    configure(sluice, source, sink)
    sluice("table add nothing --source src --destination dst --primary-key id", ok=True)
    sluice("run nothing", ok=True)
    assert sink.rows("nothing", "id") == []


def test_odd_identifiers_arrive_as_they_are(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    table = 'Odd "T" ü'
    names = ["id", "Mixed Case", 'quo"te', "ünï", "c" * 60]
    source.create(table, {n: "INTEGER" if n == "id" else "TEXT" for n in names})
    rows = [(1, "a", "b", "c", "d"), (2, None, "", "🎉", None)]
    source.insert(table, names, rows)
    configure(sluice, source, sink)
    options = ["--source", "src", "--destination", "dst", "--primary-key", "id"]
    sluice("table add", table, *options, ok=True)
    sluice("run", table, ok=True)
    assert sink.rows(table, sink.q("id")) == rows


def test_a_full_replace_drops_rows_removed_at_the_source(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(1, "a"), (2, "b"), (3, "c")])
    configure(sluice, source, sink)
    sluice("table add t --source src --destination dst --primary-key id", ok=True)
    sluice("run t", ok=True)
    source.execute("DELETE FROM t WHERE id = 2")
    sluice("run t", ok=True)
    assert sink.rows("t", "id") == [(1, "a"), (3, "c")]


def test_a_merge_updates_rows_in_place(sluice: Sluice, source: SQLiteSystem, sink: System) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT", "at": "TIMESTAMP"})
    source.insert("t", ["id", "name", "at"], [(1, "a", "2024-01-01 00:00:00"),
                                                (2, "b", "2024-01-01 00:00:01")])  # fmt: skip
    configure(sluice, source, sink)
    sluice(
        "table add t --source src --destination dst --primary-key id --load incremental "
        "--key at --sink-load incremental",
        ok=True,
    )
    sluice("run t", ok=True)
    source.execute("UPDATE t SET name = 'a2', at = '2024-01-02 00:00:00' WHERE id = 1")
    sluice("run t", ok=True)
    assert [row[:2] for row in sink.rows("t", "id")] == [(1, "a2"), (2, "b")]


def test_an_append_without_a_key_adds_each_row_once(
    sluice: Sluice, source: SQLiteSystem, sink: System
) -> None:
    source.create("log", {"n": "INTEGER", "line": "TEXT"}, key=None)
    source.insert("log", ["n", "line"], [(1, "a"), (2, "a")])
    configure(sluice, source, sink)
    sluice(
        "table add log --source src --destination dst --load incremental --key n "
        "--sink-load incremental",
        ok=True,
    )
    sluice("run log", ok=True)
    source.insert("log", ["n", "line"], [(3, "a"), (4, "b")])
    sluice("run log", ok=True)
    assert sink.rows("log", "1") == [(1, "a"), (2, "a"), (3, "a"), (4, "b")]


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
    workdir: Path, source: SQLiteSystem, sink: System
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(n, f"row {n}") for n in range(1, 101)])
    for args in (
        ("init",),
        ("source", "add", "src", "--type", "sqlite", "--creds", json.dumps(source.creds())),
        ("destination", "add", "dst", "--type", sink.type_name, "--creds",
         json.dumps(sink.creds())),
        ("table", "add", "t", "--source", "src", "--destination", "dst", "--primary-key", "id",
         "--load", "incremental", "--key", "id", "--sink-load", "incremental"),
    ):  # fmt: skip
        assert sluice_process(workdir, *args).returncode == 0, args
    killed = sluice_process(workdir, "run", "t", crash_at="load:inside_transaction")
    assert killed.returncode != 0
    # Killed inside the load's transaction: none of its rows, nothing half-built shows.
    assert "t" not in sink.tables() or sink.rows("t", "id") == []
    ran = sluice_process(workdir, "run", "t")
    assert ran.returncode == 0, ran.stderr
    assert len(sink.rows("t", "id")) == 100
    assert [name for name in sink.tables() if name.startswith("__sluice")] == []


def test_bad_creds_fail_fast_in_one_line_without_the_secret(sluice: Sluice, sink: System) -> None:
    assert_bad_creds_fail_fast(sluice, "destination", sink)
