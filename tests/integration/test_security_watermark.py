"""A row stamped in the future never drags the watermark past what can be trusted: the run
fails naming the rows, or (policy hold) leaves them out until they are due; `status` shows it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Sluice
from tests.integration.sinks import duckdb_table

pytestmark = pytest.mark.postgres


@pytest.fixture
def events(sluice: Sluice, workdir: Path, pg_database: str) -> Iterator[psycopg.Connection]:
    """A PostgreSQL `events` table (timestamptz key), incremental into DuckDB."""
    with psycopg.connect(pg_database, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE events (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)"
        )
        pg.execute(
            "INSERT INTO events SELECT i, 'v' || i, now() - interval '1 day' + i * interval '1s' "
            "FROM generate_series(1, 5) i"
        )
        name = pg_database.rsplit("/", 1)[1]
        creds = f'{{"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "{name}"}}'
        sluice("init", ok=True)
        sluice(f"source add pg --type postgres --creds '{creds}'", ok=True)
        sluice(
            f'destination add wh --type duckdb --creds \'{{"path": "{workdir / "w"}"}}\'', ok=True
        )
        sluice(
            "table add events --source pg --destination wh --load incremental --key updated_at "
            "--sink-load incremental --primary-key id",
            ok=True,
        )
        sluice("run events", ok=True)
        yield pg


def watermark(sluice: Sluice) -> str:
    shown = sluice("table show events --json", ok=True).json()
    return str(shown["source_to_dl"]["last_incremental_value"])


def test_a_key_a_year_ahead_fails_the_run_naming_the_rows(
    sluice: Sluice, events: psycopg.Connection, workdir: Path
) -> None:
    before = watermark(sluice)
    events.execute(
        "INSERT INTO events VALUES (6, 'now', now()), (7, 'ahead', now() + interval '1 year')"
    )
    failed = sluice("run events --json")
    assert failed.code == 1
    shown_run = sluice("runs show 2 --json")
    assert shown_run.code == 1, "runs show of a failed run exits 1"
    error = shown_run.json()["error_message"]
    assert "incremental key 'updated_at' of events is more than 1h ahead of the clock" in error
    assert "in 1 row(s)" in error and "(id=7)" in error
    assert "nothing was published" in error and "--future-policy hold" in error
    assert watermark(sluice) == before  # the watermark did not move
    status = {r["hop"]: r for r in sluice("status --json", ok=True).json()}
    assert status["source_to_dl"]["last_status"] == "failed"
    assert status["source_to_dl"]["future"] == "1h, fail"
    # A tolerance wide enough lets the row through, as the message says.
    sluice("table edit events --future-tolerance 400d", ok=True)
    sluice("run events", ok=True)
    assert sorted(duckdb_table(workdir / "w", "events").column("id").to_pylist()) == list(
        range(1, 8)
    )


def test_held_back_rows_wait_until_they_are_due(
    sluice: Sluice, events: psycopg.Connection, workdir: Path
) -> None:
    sluice("table edit events --future-policy hold --future-tolerance 5m", ok=True)
    events.execute(
        "INSERT INTO events VALUES (6, 'now', now()), (7, 'ahead', now() + interval '1 year')"
    )
    sluice("run events", ok=True)
    sink = duckdb_table(workdir / "w", "events")
    assert sorted(sink.column("id").to_pylist()) == [1, 2, 3, 4, 5, 6]  # 7 waits
    assert watermark(sluice) < "2030"  # no jump a year ahead
    shown = sluice("table show events --json", ok=True).json()
    assert shown["future_policy"] == "hold" and shown["future_tolerance"] == "5m"
    assert shown["future_held"].startswith("1 row(s) held back at ")
    status = {r["hop"]: r for r in sluice("status --json", ok=True).json()}
    assert status["source_to_dl"]["future"] == "5m, hold: " + shown["future_held"]
    assert "events: 1 row(s) held back" in sluice("status", ok=True).err
    # A change after the held row is still taken; the held row itself once it is due.
    events.execute("INSERT INTO events VALUES (8, 'later', now())")
    sluice("run events", ok=True)
    assert 8 in duckdb_table(workdir / "w", "events").column("id").to_pylist()
    events.execute("UPDATE events SET updated_at = now() WHERE id = 7")
    sluice("run events", ok=True)
    assert sorted(duckdb_table(workdir / "w", "events").column("id").to_pylist()) == list(
        range(1, 9)
    )
    assert sluice("table show events --json", ok=True).json()["future_held"] is None


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--future-tolerance soon", "future tolerance 'soon' (--future-tolerance) is not valid"),
        ("--future-tolerance 1.5h", "future tolerance '1.5h' (--future-tolerance) is not valid"),
        ("--future-policy skip", "future policy 'skip' (--future-policy) is unknown"),
    ],
)
def test_bad_policies_are_refused(
    sluice: Sluice, events: psycopg.Connection, option: str, message: str
) -> None:
    result = sluice(f"table edit events {option}")
    assert result.code == 3 and message in result.err


def test_a_watermark_already_in_the_future_fails_with_the_way_back(
    sluice: Sluice, events: psycopg.Connection, workdir: Path
) -> None:
    # As an older version left it after a row stamped a year ahead (since corrected).
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        c.execute(
            "UPDATE pipeline_config SET source_to_dl_last_incremental_value = "
            "'2099-01-01T00:00:00.000000+00:00'"
        )
    events.execute("INSERT INTO events VALUES (6, 'missed', now())")
    failed = sluice("run events")
    assert failed.code == 1
    assert "the watermark of events (2099-01-01T00:00:00.000000+00:00) is more than 1h ahead" in (
        failed.err
    )
    assert "`sluice table edit events --load full`" in failed.err
    sluice("table edit events --load full", ok=True)
    sluice("run events", ok=True)
    sluice("table edit events --load incremental", ok=True)
    events.execute("INSERT INTO events VALUES (7, 'next', now())")
    sluice("run events", ok=True)
    assert watermark(sluice) < "2030"
    assert sorted(duckdb_table(workdir / "w", "events").column("id").to_pylist()) == list(
        range(1, 8)
    )
