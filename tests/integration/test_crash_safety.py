"""SIGKILL at every named point of a run, then run again: nothing lost, nothing doubled.

After each kill: no batch without a manifest is loaded, the hop-1 watermark is not ahead of
the lake and the hop-2 watermark is not ahead of the sink. After the rerun: a keyed sink equals
the source; an append-only sink holds every extracted row version exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import psycopg
import pytest

from sluice.core.faults import POINTS
from tests.conftest import Sluice
from tests.iceberg import iceberg_table
from tests.processes import sluice_process

T0 = 1_700_000_000  # epoch seconds; keys are integers so every system compares them alike


class System(Protocol):
    source_creds: dict[str, Any]
    sink_type: str
    sink_creds: dict[str, Any]

    def create(self) -> None: ...
    def write(self, rows: list[tuple[int, str, int]]) -> None: ...
    def source_rows(self) -> list[tuple[Any, ...]]: ...
    def sink_rows(self) -> list[tuple[Any, ...]]: ...
    def sink_batches(self) -> set[int]: ...


class Embedded:
    """SQLite source, DuckDB sink."""

    sink_type = "duckdb"

    def __init__(self, workdir: Path) -> None:
        self.source = workdir / "src.db"
        self.sink = workdir / "wh.duckdb"
        self.source_creds = {"path": str(self.source)}
        self.sink_creds = {"path": str(self.sink)}

    def create(self) -> None:
        with sqlite3.connect(self.source) as c:
            c.execute("CREATE TABLE events (id INTEGER, v TEXT, changed INTEGER NOT NULL)")

    def write(self, rows: list[tuple[int, str, int]]) -> None:
        with sqlite3.connect(self.source) as c:
            for row_id, value, changed in rows:
                updated = c.execute(
                    "UPDATE events SET v = ?, changed = ? WHERE id = ?", (value, changed, row_id)
                ).rowcount
                if not updated:
                    c.execute("INSERT INTO events VALUES (?, ?, ?)", (row_id, value, changed))

    def source_rows(self) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.source) as c:
            return sorted(c.execute("SELECT id, v, changed FROM events").fetchall())

    def sink_rows(self) -> list[tuple[Any, ...]]:
        if not self.sink.exists():
            return []
        with duckdb.connect(str(self.sink), read_only=True) as c:
            return sorted(c.execute("SELECT id, v, changed FROM events").fetchall())

    def sink_batches(self) -> set[int]:
        if not self.sink.exists():
            return set()
        with duckdb.connect(str(self.sink), read_only=True) as c:
            try:
                return {r[0] for r in c.execute("SELECT batch_id FROM _sluice_state").fetchall()}
            except duckdb.CatalogException:
                return set()


class Postgres:
    sink_type = "postgres"

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        self.source_creds = {"url": source}
        self.sink_creds = {"url": target}

    def create(self) -> None:
        with psycopg.connect(self.source, autocommit=True) as c:
            c.execute("CREATE TABLE events (id integer, v text, changed bigint NOT NULL)")

    def write(self, rows: list[tuple[int, str, int]]) -> None:
        with psycopg.connect(self.source) as c:
            for row_id, value, changed in rows:
                updated = c.execute(
                    "UPDATE events SET v = %s, changed = %s WHERE id = %s", (value, changed, row_id)
                ).rowcount
                if not updated:
                    c.execute("INSERT INTO events VALUES (%s, %s, %s)", (row_id, value, changed))

    def _rows(self, url: str, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as c:
            try:
                return sorted(tuple(r) for r in c.execute(sql).fetchall())
            except psycopg.errors.UndefinedTable:
                return []

    def source_rows(self) -> list[tuple[Any, ...]]:
        return self._rows(self.source, "SELECT id, v, changed FROM events")

    def sink_rows(self) -> list[tuple[Any, ...]]:
        return self._rows(self.target, "SELECT id, v, changed FROM events")

    def sink_batches(self) -> set[int]:
        return {int(r[0]) for r in self._rows(self.target, "SELECT batch_id FROM _sluice_state")}


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, workdir: Path) -> Iterator[System]:
    if request.param == "embedded":
        yield Embedded(workdir)
    else:
        yield Postgres(request.getfixturevalue("pg_database"), request.getfixturevalue("pg_target"))


def cli(workdir: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return sluice_process(workdir, *args, crash_at=crash_at)


def config_watermarks(workdir: Path) -> tuple[str | None, str | None]:
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        row = c.execute(
            "SELECT source_to_dl_last_incremental_value, dl_to_sink_last_incremental_value "
            "FROM pipeline_config"
        ).fetchone()
    return row[0], row[1]


def committed(workdir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text())
        for p in sorted((workdir / "lake").glob("*/events/batch=*/_manifest.json"))
    ]


@pytest.mark.parametrize("keyed", [True, False], ids=["merge", "append"])
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_anywhere_loses_and_doubles_nothing(
    sluice: Sluice,
    workdir: Path,
    system: System,
    point: str,
    keyed: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the killed run needs a process of its own; the others run in this one (the same
    # entry point), in batches as small as the child's so that kills land between batches.
    monkeypatch.setenv("SLUICE_READ_BATCH_ROWS", "40")
    system.create()
    sluice("init", ok=True)
    sluice(
        f"source add src --type sqlite --creds '{json.dumps(system.source_creds)}'".replace(
            "sqlite", "postgres" if isinstance(system, Postgres) else "sqlite", 1
        ),
        ok=True,
    )
    sluice(
        f"destination add dst --type {system.sink_type} --creds '{json.dumps(system.sink_creds)}'",
        ok=True,
    )
    key = " --primary-key id" if keyed else ""
    sluice(
        "table add events --source src --destination dst --load incremental --key changed "
        f"--sink-load incremental{key}",
        ok=True,
    )

    versions: list[tuple[int, str, int]] = []

    def change(rows: list[tuple[int, str, int]]) -> None:
        system.write(rows)
        versions.extend(rows)

    change([(i, f"v{i}", T0 + i // 3) for i in range(150)])  # several rows share each key
    sluice("run events", ok=True)
    # new rows, updates, and a row at exactly the current watermark
    change([(i, f"v{i}", T0 + 60 + i // 3) for i in range(150, 300)])
    change([(i, f"u{i}", T0 + 120) for i in range(0, 40, 4)])
    change([(300, "at-watermark", T0 + 120)])

    killed = cli(workdir, "run", "events", crash_at=point)
    assert killed.returncode == -9, killed.stdout + killed.stderr

    hop1, hop2 = config_watermarks(workdir)
    manifests = committed(workdir)
    lake_max = max((int(m["watermark_after"]) for m in manifests), default=None)
    assert hop1 is None or (lake_max is not None and int(hop1) <= lake_max)
    held = system.sink_batches()
    assert held <= {m["sequence"] for m in manifests}  # only committed batches reach the sink
    assert hop2 is None or int(hop2) <= max(held, default=0)

    sluice("run events", ok=True)
    sluice("run events", ok=True)  # and a quiet run after it

    sink = system.sink_rows()
    if keyed:
        assert sink == system.source_rows()
    else:
        assert Counter(sink) == Counter(set(versions)), "each row version exactly once"
    # The lake's Iceberg table records each committed batch once (none lost between its
    # commit and its manifest, none committed twice) and holds exactly their rows.
    manifests = committed(workdir)
    table = iceberg_table(
        workdir / "databases/config_db/data/config.db",
        f"file://{workdir / 'lake'}",
        name=("src", "events"),
    )
    recorded = [int(str(s.summary["sluice.batch"])) for s in table.snapshots() if s.summary]
    assert recorded == [m["sequence"] for m in manifests]
    assert table.scan().to_arrow().num_rows == sum(m["row_count"] for m in manifests)
    shown = sluice("runs --json", ok=True).json()
    assert [r["status"] for r in shown] == ["success", "success", "failed", "success"]
    assert "abandoned" in shown[2]["error_message"]
