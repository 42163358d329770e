"""Compaction of incremental tables, and the lake's index: what a stage reads of the lake
does not grow with the table's history.

The lake is read back with pyiceberg (tests/iceberg.py, no sluice code) and the sink is
DuckDB: compaction changes neither the rows any engine reads nor what hop 2 has loaded or
will load; a process killed at each of its points leaves the table whole.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.table import Table

from sluice.core.faults import COMPACTION_POINTS
from sluice.engine.services import Services
from sluice.lake.reader import LakeTable
from sluice.lake.store import LakeStore
from sluice.stages import compaction
from tests.conftest import Sluice
from tests.iceberg import iceberg_table
from tests.integration.sinks import duckdb_table, same_rows
from tests.processes import sluice_process

CONFIG_DB = Path("databases/config_db/data/config.db")


def _write(workdir: Path, rows: range, tag: str) -> None:
    with sqlite3.connect(workdir / "src.sqlite") as c:
        c.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, v TEXT, u INTEGER)")
        (newest,) = c.execute("SELECT coalesce(max(u), 0) FROM events").fetchone()
        c.executemany(
            "INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
            [(i, f"{tag}{i}", newest + 1 + n) for n, i in enumerate(rows)],
        )


def _source(workdir: Path) -> pa.Table:
    with sqlite3.connect(workdir / "src.sqlite") as c:
        rows = c.execute("SELECT id, v, u FROM events ORDER BY id").fetchall()
    return pa.table({k: [r[i] for r in rows] for i, k in enumerate(("id", "v", "u"))})


def make_events(sluice: Sluice, workdir: Path, batches: int, lake: str | None = None) -> None:
    """`events` incremental on `u` in hop 1, merged on `id` by hop 2 (DuckDB), in `lake` (the
    default lake where None); `batches` runs, each after changing some rows and adding
    others, all loaded."""
    _write(workdir, range(10), "a")
    sluice("init" + (f" --lake {lake}" if lake else ""), ok=True)
    source, sink = (json.dumps({"path": str(workdir / f)}) for f in ("src.sqlite", "wh.duckdb"))
    sluice(f"source add src --type sqlite --creds '{source}'", ok=True)
    sluice(f"destination add wh --type duckdb --creds '{sink}'", ok=True)
    sluice(
        "table add events --source src --destination wh --load incremental --key u "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    sluice("run events", ok=True)
    for n in range(batches - 1):
        _write(workdir, range(5 + n, 12 + n), f"b{n}-")
        sluice("run events", ok=True)


@pytest.fixture
def events(sluice: Sluice, workdir: Path) -> Sluice:
    """make_events with five batches in the default lake."""
    make_events(sluice, workdir, 5)
    return sluice


def _lake(workdir: Path) -> Table:
    return iceberg_table(workdir / CONFIG_DB, f"file://{workdir / 'lake'}", name=("src", "events"))


def _log(table: Table) -> list[tuple[int, str, int]]:
    """Every row of the current Iceberg table (an incremental table is the log of its
    batches: a changed row once per batch that carried it), sorted."""
    rows = table.scan().to_arrow()
    return sorted(zip(*(rows.column(c).to_pylist() for c in ("id", "v", "u")), strict=True))


def _sink_equals_source(workdir: Path) -> None:
    assert same_rows(duckdb_table(workdir / "wh.duckdb", "events"), _source(workdir), ["id"])


def _held(workdir: Path) -> list[int]:
    import duckdb

    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as connection:
        rows = connection.sql("SELECT batch_id FROM _sluice_state ORDER BY batch_id").fetchall()
    return [row[0] for row in rows]


def test_compaction_keeps_every_row_and_what_hop_2_loaded(events: Sluice, workdir: Path) -> None:
    before = _log(_lake(workdir))
    assert [b["batch"] for b in events("lake ls events --json", ok=True).json()] == [1, 2, 3, 4, 5]
    planned = events("lake compact events --dry-run --json", ok=True).json()
    assert planned == {"table": "events", "compacted": [1, 2, 3, 4, 5], "dry_run": True}

    assert events("lake compact events --json", ok=True).json()["compacted"] == [1, 2, 3, 4, 5]
    [batch] = events("lake ls events --json", ok=True).json()
    assert (batch["batch"], batch["operation"]) == (5, "overwrite")
    assert batch["compacted"] == [1, 2, 3, 4, 5]
    assert (batch["rows"], batch["files"]) == (len(before), 1)  # five files became one
    table = _lake(workdir)
    assert _log(table) == before  # the same rows, duplicates and all, for any engine
    [snapshot] = table.snapshots()  # the replaced batches' snapshots are expired
    assert snapshot.summary is not None and snapshot.summary.operation.value == "overwrite"
    lake = workdir / "lake/src/events"
    assert sorted(p.name for p in lake.glob("batch=*")) == [f"batch=00000005-c{batch_token(lake)}"]
    assert events("lake compact events --json", ok=True).json()["compacted"] == []

    # Hop 2 holds batches 1-5: the compacted one is not loaded again.
    assert _held(workdir) == [1, 2, 3, 4, 5]
    _write(workdir, range(3, 8), "c")
    assert _loaded(events("run events --json", ok=True).json()) == 5  # batch 6 alone
    assert _held(workdir) == [1, 2, 3, 4, 5, 6]
    _sink_equals_source(workdir)

    # A sink loading afresh takes the compacted batch whole, newest version of each key.
    events("table reload events --hop dl_to_sink", ok=True)
    _sink_equals_source(workdir)
    assert _held(workdir) == [1, 2, 3, 4, 5, 6]
    # A full hop 2 holds the same batches: nothing to load.
    events("table edit events --sink-load full", ok=True)
    assert _loaded(events("run events --hop dl_to_sink --json", ok=True).json()) == 0
    _sink_equals_source(workdir)
    # And hop 1 goes on from the compacted batch's watermark and window.
    _write(workdir, range(20, 22), "d")
    events("table edit events --sink-load incremental", ok=True)
    events("run events", ok=True)
    _sink_equals_source(workdir)
    assert [b["batch"] for b in events("lake ls events --json", ok=True).json()] == [5, 6, 7]


def _loaded(run: dict[str, Any]) -> int:
    [load] = [stage for stage in run["stages"] if stage["stage_type"] == "load"]
    return int(load["rows_processed"])


def batch_token(lake: Path) -> str:
    [compacted] = lake.glob("batch=*-c*")
    return compacted.name.rsplit("-c", 1)[1]


def test_unloaded_batches_are_not_compacted(events: Sluice, workdir: Path) -> None:
    _write(workdir, range(30, 33), "e")
    events("run events --hop source_to_dl", ok=True)  # batch 6, not loaded yet
    assert events("lake compact events --json", ok=True).json()["compacted"] == []
    events("run events --hop dl_to_sink", ok=True)
    assert events("lake compact events --json", ok=True).json()["compacted"] == [1, 2, 3, 4, 5, 6]
    _sink_equals_source(workdir)


def test_hop_2_compacts_by_policy(
    events: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "POLICY_BATCHES", 3)
    _write(workdir, range(40, 42), "f")
    events("run events", ok=True)  # the load of batch 6 compacts 1-6
    [batch] = events("lake ls events --json", ok=True).json()
    assert batch["compacted"] == [1, 2, 3, 4, 5, 6]
    _write(workdir, range(50, 52), "g")
    events("run events", ok=True)  # two batches: under the policy's three
    assert [b["batch"] for b in events("lake ls events --json", ok=True).json()] == [6, 7]
    _sink_equals_source(workdir)


@pytest.mark.parametrize("point", COMPACTION_POINTS)
def test_a_compaction_killed_at_any_point_leaves_the_table_whole(
    events: Sluice, workdir: Path, point: str
) -> None:
    before = _log(_lake(workdir))
    killed = sluice_process(workdir, "lake", "compact", "events", crash_at=point)
    assert killed.returncode == -9, killed.stderr
    listed = events("lake ls events --json", ok=True).json()
    if point == "compaction:before_commit":
        assert [b["batch"] for b in listed] == [1, 2, 3, 4, 5]
        # Its directory is left to `lake gc` once nothing has written to it for an hour.
        [left] = (workdir / "lake/src/events").glob("batch=*-c*")
        events("lake gc events", ok=True)
        assert left.exists()
        for path in [left, *left.iterdir()]:
            os.utime(path, (time.time() - 7200, time.time() - 7200))
        events("lake gc events", ok=True)
        assert not left.exists()
    else:  # committed: the next look completes it
        assert [(b["batch"], b["compacted"]) for b in listed] == [(5, [1, 2, 3, 4, 5])]
    assert _log(_lake(workdir)) == before
    _write(workdir, range(60, 64), "h")
    events("run events", ok=True)
    _sink_equals_source(workdir)
    after = _log(_lake(workdir))
    assert len(after) == len(before) + 4 and set(before) <= set(after)
    # A compaction after it merges what is there, the killed one's leftovers aside.
    assert events("lake compact events --json", ok=True).json()["compacted"][-1] == 6
    assert _log(_lake(workdir)) == after
    _sink_equals_source(workdir)


def test_what_a_stage_reads_of_the_lake_does_not_grow_with_its_batches(
    events: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is the Iceberg table's snapshots (read from its metadata file): finding the
    committed batches reads no manifest, and the newest batch's manifest is the one read, with
    5 batches as with 15."""
    services = Services.open(None)
    reads: list[str] = []
    original = LakeStore.read_bytes

    def counted(self: LakeStore, path: str) -> bytes:
        reads.append(path)
        return original(self, path)

    def look() -> int:
        reads.clear()
        table = LakeTable(services.lake(), "src", "events")
        refs = table.batches()
        assert table.newest() is not None
        return len(refs)

    monkeypatch.setattr(LakeStore, "read_bytes", counted)
    assert look() == 5
    few = list(reads)
    for n in range(10):
        _write(workdir, range(70 + n, 71 + n), "i")
        events("run events --hop source_to_dl", ok=True)
    assert look() == 15
    assert len(reads) == len(few) == 1, reads  # the newest manifest alone
