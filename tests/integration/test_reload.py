"""`sluice table reload`: every error whose fix is a reload names the command, and it works.

Real PostgreSQL as source and sink, the real CLI: in a child process where a crash point
kills it, in this process otherwise. Each case breaks the table the way a user's database or
hands do, checks that the run fails before loading anything with the command in its message,
runs that command and checks that the sink then holds exactly the source's rows. Batch
identities make a lake that was moved aside (sequences starting again at 1) fail loudly
instead of loading 0 rows.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.conftest import CliResult, Sluice
from tests.integration.api_support import Api, chinook_fixture, held_api_fixture, held_fixture
from tests.processes import sluice_process

__all__ = ["chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures used here

ROWS = 300


def cli(workdir: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return sluice_process(workdir, *args, crash_at=crash_at, batch_rows=100)


class Acct:
    """The acct table's working directory, its source and sink, and the CLI run in-process."""

    def __init__(self, workdir: Path, source: str, target: str, sluice: Sluice) -> None:
        self.workdir, self.source, self.target, self.sluice = workdir, source, target, sluice

    def ok(self, *args: str) -> CliResult:
        return self.sluice(shlex.join(args), ok=True)

    def failed(self, *args: str) -> CliResult:
        done = self.sluice(shlex.join(args))
        assert done.code == 1, done.out
        return done


@pytest.fixture
def acct(
    workdir: Path,
    pg_database: str,
    pg_target: str,
    sluice: Sluice,
    monkeypatch: pytest.MonkeyPatch,
) -> Acct:
    """Table acct (id, amount numeric, note, updated_at) loaded incremental/incremental."""
    monkeypatch.setenv("SLUICE_READ_BATCH_ROWS", "100")  # as the crash points' child has
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE acct (id int PRIMARY KEY, amount numeric(12,2), note text, "
            "updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO acct SELECT g, g * 1.25, 'n' || g, "
            "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' "
            f"FROM generate_series(1, {ROWS}) g"
        )
    table = Acct(workdir, pg_database, pg_target, sluice)
    table.ok("init")
    table.ok(
        "source",
        "add",
        "src",
        "--type",
        "postgres",
        "--creds",
        json.dumps({"url": pg_database}),
    )
    table.ok(
        "destination",
        "add",
        "dst",
        "--type",
        "postgres",
        "--creds",
        json.dumps({"url": pg_target}),
    )
    table.ok(
        "table", "add", "acct", "--source", "src", "--destination", "dst",
        "--load", "incremental", "--key", "updated_at",
        "--sink-load", "incremental", "--primary-key", "id",
    )  # fmt: skip
    table.ok("run", "acct")
    return table


def sink_rows(target: str) -> list[tuple[object, ...]]:
    with psycopg.connect(target) as conn:
        return conn.execute("SELECT * FROM acct ORDER BY id").fetchall()


def source_rows(source: str) -> list[tuple[object, ...]]:
    with psycopg.connect(source) as conn:
        return conn.execute("SELECT * FROM acct ORDER BY id").fetchall()


def sink_type(target: str, column: str) -> str:
    with psycopg.connect(target) as conn:
        row = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'acct'::regclass AND attname = %s AND NOT attisdropped",
            (column,),
        ).fetchone()
    return "" if row is None else str(row[0])


def later(source: str, sql: str) -> None:
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(sql)


def test_an_incompatible_source_type_change_is_fixed_by_the_reload_it_names(
    acct: Acct,
) -> None:
    source, target = acct.source, acct.target
    later(source, "ALTER TABLE acct ALTER COLUMN amount TYPE text USING amount::text || ' EUR'")
    later(source, "UPDATE acct SET updated_at = updated_at + interval '1 day' WHERE id <= 10")
    failed = acct.failed("run", "acct")
    assert "column 'amount' changed type from decimal128(12, 2) to string" in failed.err
    assert "run `sluice table reload acct` to read the table afresh" in failed.err
    assert sink_type(target, "amount") == "numeric(12,2)"  # nothing was loaded

    reloaded = acct.ok("table", "reload", "acct", "--json")
    assert reloaded.json()["reload"] is True
    assert sink_type(target, "amount") == "text"
    assert sink_rows(target) == source_rows(source)
    # The table carries on incrementally from the reload's batch.
    later(source, "INSERT INTO acct VALUES (9999, '1 EUR', 'late', now())")
    acct.ok("run", "acct")
    assert sink_rows(target) == source_rows(source)


def test_a_dropped_column_goes_from_the_sink_on_reload(acct: Acct) -> None:
    source, target = acct.source, acct.target
    later(source, "ALTER TABLE acct DROP COLUMN note")
    acct.ok("table", "reload", "acct")
    assert sink_type(target, "note") == ""
    assert sink_rows(target) == source_rows(source)


def test_a_lake_moved_aside_fails_loudly_and_reload_restores_every_row(
    acct: Acct,
) -> None:
    workdir, source, target = acct.workdir, acct.source, acct.target
    lake = workdir / "lake"
    tables = [p for p in lake.rglob("acct") if p.is_dir()]
    assert len(tables) == 1, tables
    shutil.move(tables[0], workdir / "acct-aside")
    # The watermark stays in the config database: hop 1 writes a small batch 1 again...
    later(source, "INSERT INTO acct VALUES (5001, 1, 'new', now())")
    failed = acct.failed("run", "acct")
    assert "holds lake batch 1 of another lake" in failed.err
    assert "run `sluice table reload acct`" in failed.err
    assert len(sink_rows(target)) == ROWS  # ...and hop 2 loaded nothing, and said so

    acct.ok("table", "reload", "acct")
    assert sink_rows(target) == source_rows(source)
    assert len(sink_rows(target)) == ROWS + 1


def test_a_damaged_stored_watermark_names_the_reload_that_replaces_it(
    acct: Acct,
) -> None:
    workdir, source, target = acct.workdir, acct.source, acct.target
    with sqlite3.connect(workdir / "databases" / "config_db" / "data" / "config.db") as config:
        config.execute("UPDATE pipeline_config SET source_to_dl_last_incremental_value = 'soon'")
    failed = acct.failed("run", "acct")
    assert "stored watermark 'soon' is not a valid timestamp" in failed.err
    assert "run `sluice table reload acct` to read the table afresh" in failed.err
    later(source, "INSERT INTO acct VALUES (777, 1, 'after', now())")
    acct.ok("table", "reload", "acct")
    assert sink_rows(target) == source_rows(source)
    acct.ok("run", "acct")  # and it carries on from the new watermark


def test_a_sink_column_changed_by_hand_names_the_hop_2_reload(
    acct: Acct,
) -> None:
    source, target = acct.source, acct.target
    later(target, "ALTER TABLE acct ALTER COLUMN note TYPE int USING 0")
    later(source, "UPDATE acct SET updated_at = updated_at + interval '1 day' WHERE id <= 5")
    failed = acct.failed("run", "acct")
    assert "column 'note' of sink table acct is integer" in failed.err
    assert "run `sluice table reload acct --hop dl_to_sink` to swap the sink table" in failed.err
    acct.ok("table", "reload", "acct", "--hop", "dl_to_sink")
    assert sink_type(target, "note") == "text"
    assert sink_rows(target) == source_rows(source)


def test_a_reload_killed_after_hop_1_is_finished_by_the_next_plain_run(
    acct: Acct,
) -> None:
    """The reload batch itself says "swap me in": whichever hop 2 meets it first does."""
    workdir, source, target = acct.workdir, acct.source, acct.target
    later(source, "ALTER TABLE acct ALTER COLUMN amount TYPE text USING amount::text")
    killed = cli(workdir, "table", "reload", "acct", crash_at="load:inside_transaction")
    assert killed.returncode != 0
    assert sink_type(target, "amount") == "numeric(12,2)"  # the old table, whole
    assert len(sink_rows(target)) == ROWS
    acct.ok("run", "acct", "--hop", "dl_to_sink")
    assert sink_type(target, "amount") == "text"
    assert sink_rows(target) == source_rows(source)


def test_a_reload_killed_before_publishing_leaves_the_table_as_it_was(
    acct: Acct,
) -> None:
    workdir, source, target = acct.workdir, acct.source, acct.target
    before = sink_rows(target)
    killed = cli(workdir, "table", "reload", "acct", crash_at="lake:before_publish")
    assert killed.returncode != 0
    acct.ok("run", "acct")  # nothing new: the unpublished reload batch never counts
    assert sink_rows(target) == before
    later(source, "UPDATE acct SET amount = 0 WHERE id = 1")
    acct.ok("table", "reload", "acct")
    rows = sink_rows(target)
    assert rows == source_rows(source) and rows[0][1] == Decimal("0.00")


def test_the_api_starts_a_reload(held_api: Api) -> None:
    missing = held_api.call("POST", "/api/tables/nope/reload")
    assert missing.status_code == 404
    started = held_api.call("POST", "/api/tables/Genre/reload", json={"hop": "all"})
    assert started.status_code == 202
    run_id = started.json()["run_id"]
    shown = held_api.call("GET", f"/api/runs/{run_id}").json()
    assert shown["reload"] is True and shown["triggered_by"] == "api"
    busy = held_api.call("POST", "/api/tables/Genre/reload")
    assert busy.status_code == 409 and busy.json()["active_run_id"] == run_id
