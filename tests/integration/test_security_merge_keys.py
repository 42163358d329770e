"""A merge never collapses distinct source rows: a configured key that is not unique in the
source fails hop 1 naming it and the source's real key; correcting it re-keys the sink table
inside the load's transaction."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sluice.connectors import registry
from sluice.core.models import TableRef
from tests.conftest import Sluice

ROWS = [(i, 1, f"v{i}") for i in range(1, 11)]


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sink(request: pytest.FixtureRequest, workdir: Path) -> tuple[str, dict[str, object]]:
    if request.param == "postgres":
        url = str(request.getfixturevalue("pg_target"))
        name = url.rsplit("/", 1)[1]
        return "postgres", {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": name}
    return str(request.param), {"path": str(workdir / f"wh.{request.param}")}


def sink_state(kind: str, creds: dict[str, object]) -> tuple[int, tuple[str, ...] | None]:
    """(rows, primary key) of the sink's `orders`, as the sink itself reports them."""
    opened = registry.open_sink(kind, creds)
    try:
        info = opened.check(TableRef("orders"))
        return (info.row_count if info else 0) or 0, opened.primary_key_of(TableRef("orders"))  # type: ignore[attr-defined]
    finally:
        opened.close()


def test_a_key_narrower_than_the_source_s_fails_and_correcting_it_rekeys_the_sink(
    sluice: Sluice, workdir: Path, sink: tuple[str, dict[str, object]]
) -> None:
    kind, creds = sink
    source = workdir / "shop.db"
    with sqlite3.connect(source) as c:
        c.execute("CREATE TABLE orders (id INTEGER, line INTEGER, v TEXT, PRIMARY KEY (id, line))")
        c.executemany("INSERT INTO orders VALUES (?, ?, ?)", ROWS)
    sluice("init", ok=True)
    sluice(f'source add shop --type sqlite --creds \'{{"path": "{source}"}}\'', ok=True)
    sluice(f"destination add wh --type {kind} --creds '{json.dumps(creds)}'", ok=True)
    sluice(
        "table add orders --source shop --destination wh --sink-load incremental --primary-key id",
        ok=True,
    )
    sluice("run orders", ok=True)  # ids are unique so far
    assert sink_state(kind, creds) == (10, ("id",))

    with sqlite3.connect(source) as c:  # a second line on two orders: 12 distinct rows
        c.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(3, 2, "x"), (5, 2, "y")])
    failed = sluice("run orders --json")
    assert failed.code == 1
    shown_run = sluice("runs show 2 --json")
    assert shown_run.code == 1, "runs show of a failed run exits 1"
    error = shown_run.json()["stages"][1]["error_message"]
    assert error == (
        "extract: primary key (id) of orders is not unique in the source: 2 value(s) occur "
        "more than once in one read (id=3 (2 rows); id=5 (2 rows)), and a merge on it would "
        "collapse distinct rows into one; nothing was published. The source's primary key is (id, "
        "line): use it with `sluice table edit orders --primary-key id,line`"
    )
    assert [b["batch"] for b in sluice("lake ls orders --json", ok=True).json()] == [1]
    assert sink_state(kind, creds) == (10, ("id",))

    sluice("table edit orders --primary-key id,line", ok=True)
    sluice("run orders", ok=True)
    assert sink_state(kind, creds) == (12, ("id", "line"))
    with sqlite3.connect(source) as c:
        c.execute("UPDATE orders SET v = 'z' WHERE id = 3 AND line = 2")
    sluice("run orders", ok=True)  # merges on the new key: still 12 rows
    assert sink_state(kind, creds) == (12, ("id", "line"))
