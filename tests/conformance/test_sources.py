"""Every source passes the same cases, end to end through the CLI into a DuckDB sink.

One line per source below; its harness is in systems.py. The cases: every neutral type with
edge values (values and the lake's types), NULLs everywhere (a row of them, and columns
holding nothing else), an empty table (counted as empty), odd identifiers (quotes, spaces,
mixed case, non-ASCII, the longest name the system allows), incremental runs with rows tied
on the watermark and rows arriving late inside the look-back (each extracted once), keys of
other kinds kept exactly (an integer past 2**53, text, a date), a missing table failing the
run at check_source, and bad creds or an unreachable server failing within 15 s in one line
without the secret.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sluice.lake.manifest import Manifest
from tests.conformance.conftest import assert_bad_creds_fail_fast, configure, make_system
from tests.conformance.systems import COLUMNS, ROWS, DuckDBSystem, System
from tests.conftest import Sluice

SOURCES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("mysql", marks=pytest.mark.mysql, id="mysql"),
]


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, workdir: Path) -> System:
    return make_system(str(request.param), request, workdir)


@pytest.fixture
def warehouse(workdir: Path) -> DuckDBSystem:
    return DuckDBSystem(workdir / "wh.duckdb")


def _edge_table(source: System, table: str) -> None:
    source.create(table, {c: source.ddl[c] for c in ("id", *COLUMNS)})
    source.insert(table, ["id", *COLUMNS], ROWS)


def _manifest(workdir: Path) -> Manifest:
    """The lake's one batch."""
    [path] = (workdir / "lake").rglob("_manifest.json")
    return Manifest.from_json(path.read_bytes())


def _watermark(sluice: Sluice, table: str) -> str:
    shown = sluice(f"table show {table} --json", ok=True).json()
    return str(shown["source_to_dl"]["last_incremental_value"])


def _extracted(sluice: Sluice, table: str) -> int:
    payload = sluice(f"run {table} --json", ok=True).json()
    return int(next(s for s in payload["stages"] if s["stage_type"] == "extract")["rows_processed"])


def test_every_type_and_edge_value_arrives(
    sluice: Sluice, workdir: Path, source: System, warehouse: DuckDBSystem
) -> None:
    _edge_table(source, "edge")
    configure(sluice, source, warehouse)
    sluice("table add edge --source src --destination dst --primary-key id", ok=True)
    sluice("run edge", ok=True)
    assert warehouse.rows("edge", "id") == [source.expected(row) for row in ROWS]
    lake = _manifest(workdir).schema
    assert {c: lake.field(c).type for c in COLUMNS} == source.lake_types()


def test_columns_holding_only_nulls_arrive_with_their_types(
    sluice: Sluice, workdir: Path, source: System, warehouse: DuckDBSystem
) -> None:
    """No value to look at in a batch: the declared types alone decide."""
    source.create("blank", {c: source.ddl[c] for c in ("id", *COLUMNS)})
    nothing = (None,) * len(COLUMNS)
    source.insert("blank", ["id", *COLUMNS], [(1, *nothing), (2, *nothing)])
    configure(sluice, source, warehouse)
    sluice("table add blank --source src --destination dst --primary-key id", ok=True)
    sluice("run blank", ok=True)
    assert warehouse.rows("blank", "id") == [(1, *nothing), (2, *nothing)]
    lake = _manifest(workdir).schema
    assert {c: lake.field(c).type for c in COLUMNS} == source.lake_types()


def test_an_empty_table_arrives_empty(
    sluice: Sluice, workdir: Path, source: System, warehouse: DuckDBSystem
) -> None:
    source.create("nothing", {c: source.ddl[c] for c in ("id", *COLUMNS)})
    configure(sluice, source, warehouse)
    sluice("table add nothing --source src --destination dst --primary-key id", ok=True)
    # Counted as empty (the table's count and the read's), not as unknown.
    planned = sluice("run nothing --dry-run", ok=True).out
    assert f"holds 0 rows, {1 + len(COLUMNS)} columns" in planned
    sluice("run nothing", ok=True)
    assert warehouse.rows("nothing", "id") == []
    assert _manifest(workdir).source_row_count == 0


def test_odd_identifiers_arrive_as_they_are(
    sluice: Sluice, source: System, warehouse: DuckDBSystem
) -> None:
    table = 'Odd "T" ü'
    longest = "c" * source.longest_name
    names = ["id", "Mixed Case", 'quo"te', "ünï", longest]
    source.create(table, {n: source.ddl["id" if n in ("id", longest) else "name"] for n in names})
    rows = [(1, "a", "b", "c", 10), (2, None, "", "🎉", None)]
    source.insert(table, names, rows)
    configure(sluice, source, warehouse)
    options = ["--source", "src", "--destination", "dst", "--primary-key", "id"]
    sluice("table add", table, *options, ok=True)
    sluice("run", table, ok=True)
    assert warehouse.rows(table, "1") == rows


def test_incremental_runs_keep_ties_and_late_rows_once(
    sluice: Sluice, source: System, warehouse: DuckDBSystem
) -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 250000)
    source.create("events", {"id": source.ddl["id"], "at": source.ddl["at"]})
    source.insert("events", ["id", "at"], [(1, at), (2, at + timedelta(minutes=1))])
    configure(sluice, source, warehouse)
    sluice(
        "table add events --source src --destination dst --primary-key id --load incremental "
        "--key at --lookback 1h --sink-load incremental",
        ok=True,
    )
    assert _extracted(sluice, "events") == 2
    # A row tied with the watermark, one committed late inside the look-back, one new.
    late = [
        (3, at + timedelta(minutes=1)),
        (4, at - timedelta(minutes=30)),
        (5, at + timedelta(hours=2)),
    ]
    source.insert("events", ["id", "at"], late)
    # Each of them once; the rows the look-back reads again are in the lake already.
    assert _extracted(sluice, "events") == 3
    assert _extracted(sluice, "events") == 0  # nothing new: nothing extracted again
    got = warehouse.rows("events", "id")
    assert [row[0] for row in got] == [1, 2, 3, 4, 5]


# Incremental keys of other kinds, each value as it reads back: 2**53 + 1 and its neighbours
# are distinct only while the watermark is kept as an integer, never as a float; a quote in a
# text watermark must be bound (or escaped), never end the literal it is spliced into.
KEYS: dict[str, list[Any]] = {
    "big": [9007199254740993, 9007199254740994, 9007199254740995],
    "name": ["O'Brien 1", "O'Brien 2", "O'Brien 3"],
    "day": [date(2024, 3, 9), date(2024, 3, 10), date(2024, 3, 11)],
}


@pytest.mark.parametrize("kind", list(KEYS))
def test_an_incremental_key_of_each_kind_is_kept_exactly(
    sluice: Sluice, source: System, warehouse: DuckDBSystem, kind: str
) -> None:
    """Rows tied at the watermark: none skipped, none read twice, no reload loop."""
    one, two, three = KEYS[kind]
    columns = {"id": source.ddl["id"], "k": source.ddl[kind], "v": source.ddl["name"]}
    source.create("keyed", columns)
    source.insert("keyed", ["id", "k", "v"], [(1, one, "a"), (2, two, "b"), (3, two, "c")])
    configure(sluice, source, warehouse)
    sluice(
        "table add keyed --source src --destination dst --primary-key id --load incremental "
        "--key k --sink-load incremental",
        ok=True,
    )
    assert _extracted(sluice, "keyed") == 3
    watermark = _watermark(sluice, "keyed")
    assert _extracted(sluice, "keyed") == 0  # no reload loop at the boundary
    source.insert("keyed", ["id", "k", "v"], [(4, two, "d"), (5, three, "e")])
    assert _extracted(sluice, "keyed") == 2  # the row tied with the watermark, and the next
    assert _extracted(sluice, "keyed") == 0
    assert _watermark(sluice, "keyed") != watermark
    expected = [(1, one, "a"), (2, two, "b"), (3, two, "c"), (4, two, "d"), (5, three, "e")]
    assert warehouse.rows("keyed", "id") == expected


def test_a_missing_table_fails_the_run_at_check_source(
    sluice: Sluice, source: System, warehouse: DuckDBSystem
) -> None:
    source.create("other", {"id": source.ddl["id"]})  # a database, without that table
    configure(sluice, source, warehouse)
    sluice("table add nosuch --source src --destination dst --no-check", ok=True)
    failed = sluice("run nosuch")
    assert failed.code == 1
    assert "table 'nosuch' does not exist" in failed.err
    shown = sluice("runs show 1 --json").json()
    assert shown["status"] == "failed"
    assert shown["current_stage"] == 1
    assert [s["stage_type"] for s in shown["stages"]] == ["check_source"]
    assert shown["stages"][0]["status"] == "failed"
    assert "does not exist" in shown["stages"][0]["error_message"]
    table = sluice("table show nosuch --json", ok=True).json()
    assert table["source_to_dl"]["last_run_status"] == "failed"
    assert table["dl_to_sink"]["last_run_status"] is None


def test_bad_creds_fail_fast_in_one_line_without_the_secret(sluice: Sluice, source: System) -> None:
    assert_bad_creds_fail_fast(sluice, "source", source)


def test_discover_lists_tables_keys_and_suggested_incremental_keys(
    sluice: Sluice, source: System
) -> None:
    source.create("orders", {"id": source.ddl["id"], "updated_at": source.ddl["at"],
                             "name": source.ddl["name"]})  # fmt: skip
    source.execute(
        f"CREATE INDEX orders_updated ON {source.q('orders')} ({source.q('updated_at')})"
    )
    source.insert("orders", ["id", "updated_at", "name"],
                  [(1, datetime(2024, 1, 1), "a"), (2, datetime(2024, 1, 2), "b")])  # fmt: skip
    source.create("events", {"id": source.ddl["id"], "at": source.ddl["at"]}, key=None)
    sluice("init", ok=True)
    sluice(f"source add src --type {source.type_name} --creds", json.dumps(source.creds()), ok=True)
    found = {entry["table"].split(".")[-1]: entry for entry in sluice("discover src --json").json()}
    assert set(found) == {"orders", "events"}
    orders, events = found["orders"], found["events"]
    assert orders["primary_key"] == ["id"]
    best = orders["incremental_keys"][0]
    assert best["column"] == "updated_at" and best["why"].endswith("indexed"), best
    # A timestamp named like neither a modification nor an indexed creation time, no key:
    # nothing to suggest, the table is loaded full.
    assert events["primary_key"] == [] and events["incremental_keys"] == []
    for entry in found.values():  # an estimate where the catalog keeps one (SQLite: counted)
        assert entry["rows_estimate"] is None or entry["rows_estimate"] >= 0
    if source.type_name == "sqlite":
        assert (orders["rows_estimate"], events["rows_estimate"]) == (2, 0)
    shown = sluice("discover src", ok=True).out
    assert "updated_at (a modification time, indexed)" in shown
