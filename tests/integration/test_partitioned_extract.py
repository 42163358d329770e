"""A full hop 1 read split into ranges (stages/partitioned_extract.py), on the real PostgreSQL
and MariaDB.

Here the ranges are read by threads of the run's own process (the local executor's fan-out);
tests/integration/test_celery_executor.py has them read by `sluice worker` processes. The
table is split by `--partitions`, whatever its size. What is checked: the batch is one batch
of every range's parts, identical to the source; rows written by others while the ranges are
read stay out (one snapshot); a range that fails or whose reader goes silent fails the run
with nothing published; and the sink ends equal to the source.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from sluice.connectors.postgres.source import PostgresSource
from sluice.core.errors import TerminalError
from sluice.stages import partitioned_extract
from tests.conftest import Sluice
from tests.integration.sinks import duckdb_table, same_rows
from tests.s3 import BUCKET, s3_endpoint, s3_keys

pytestmark = pytest.mark.postgres
__all__ = ["s3_endpoint"]

ROWS = 20_000


@pytest.fixture
def source(pg_database: str) -> Iterator[str]:
    with psycopg.connect(pg_database, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE events (id integer PRIMARY KEY, kind text, amount numeric(12, 2), "
            "at timestamptz)"
        )
        connection.execute(
            "INSERT INTO events SELECT g, 'k' || (g %% 7), g * 1.25, "
            "'2024-01-01'::timestamptz + g * interval '1 minute' "
            "FROM generate_series(1, %s::int) g",
            (ROWS,),
        )
    yield pg_database


def _configure(sluice: Sluice, url: str, partitions: int) -> None:
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': url})}'", ok=True)
    sluice("destination add wh --type duckdb --creds", json.dumps({"path": "wh.duckdb"}), ok=True)
    sluice(
        "table add public.events --source src --destination wh --primary-key id "
        f"--partitions {partitions}",
        ok=True,
    )


def _source_rows(url: str) -> pa.Table:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT id, kind, amount, at FROM events").fetchall()
    names = ["id", "kind", "amount", "at"]
    return pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows])


def _part_paths(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "lake").rglob("*.parquet") if "batch=" in str(p))


def _parts(workdir: Path) -> list[str]:
    return [p.name for p in _part_paths(workdir)]


def test_ranges_are_committed_as_one_batch_equal_to_the_source(
    sluice: Sluice, source: str, workdir: Path
) -> None:
    _configure(sluice, source, 4)
    result = json.loads(sluice("run public.events --json", ok=True).out)
    assert result["status"] == "success"
    assert [s["rows_processed"] for s in result["stages"]] == [0, ROWS, ROWS, 0, ROWS, ROWS]
    parts = _parts(workdir)
    assert [re.sub("-[0-9a-f]{6}-", "-", p) for p in parts] == [
        f"r1-p{n:03d}-part-00000.parquet" for n in range(4)
    ]
    per_range = [pq.ParquetFile(p).metadata.num_rows for p in _part_paths(workdir)]
    assert sum(per_range) == ROWS and min(per_range) > 0  # every range held rows
    listed = json.loads(sluice("lake ls public.events --json", ok=True).out)
    assert [(b["rows"], b["files"]) for b in listed] == [(ROWS, 4)]
    expected = _source_rows(source)
    assert same_rows(expected, duckdb_table(workdir / "wh.duckdb", "events"), ["id"])
    # The ranges' rows in the config database went with the extract that made them.
    with sqlite3.connect(workdir / "databases" / "config_db" / "data" / "config.db") as config:
        assert config.execute("SELECT count(*) FROM sluice_stage_partitions").fetchone() == (0,)


def test_rows_written_while_the_ranges_are_read_stay_out(
    sluice: Sluice, source: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every range reads the snapshot the extract counted in: a row inserted, one deleted and
    one updated after the snapshot was taken, before the ranges start, are not seen."""
    _configure(sluice, source, 3)
    real = PostgresSource.read_partition
    written = threading.Event()
    lock = threading.Lock()

    def after_a_write(self: PostgresSource, request: Any, spec: dict[str, Any]) -> Any:
        with lock:
            if not written.is_set():
                with psycopg.connect(source, autocommit=True) as connection:
                    connection.execute(
                        "INSERT INTO events VALUES (%s, 'new', 1, now())", (ROWS + 1,)
                    )
                    connection.execute("DELETE FROM events WHERE id = 1")
                    connection.execute("UPDATE events SET kind = 'changed' WHERE id = %s", (ROWS,))
                written.set()
        return real(self, request, spec)

    monkeypatch.setattr(PostgresSource, "read_partition", after_a_write)
    expected = _source_rows(source)  # as it was before the run
    result = json.loads(sluice("run public.events --hop source_to_dl --json", ok=True).out)
    assert result["status"] == "success" and written.is_set()
    lake = ds.dataset([str(p) for p in _part_paths(workdir)], format="parquet").to_table()
    assert lake.num_rows == ROWS
    assert sorted(lake.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())
    kinds = dict(zip(lake.column("id").to_pylist(), lake.column("kind").to_pylist(), strict=True))
    assert kinds[ROWS] != "changed" and 1 in kinds and ROWS + 1 not in kinds


def test_a_failing_range_fails_the_run_and_publishes_nothing(
    sluice: Sluice, source: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(sluice, source, 3)
    real = PostgresSource.read_partition

    def second_fails(self: PostgresSource, request: Any, spec: dict[str, Any]) -> Any:
        if spec["low"] is not None and spec["high"] is not None:  # the middle range
            raise TerminalError("the source refused this range (a test's failure)")
        return real(self, request, spec)

    monkeypatch.setattr(PostgresSource, "read_partition", second_fails)
    failed = sluice("run public.events --hop source_to_dl", ok=False)
    assert "range 2 of 3 of the read: the source refused this range" in failed.out + failed.err
    assert json.loads(sluice("lake ls public.events --json", ok=True).out) == []
    assert _parts(workdir) == []  # the other ranges' parts went with the batch's directory
    monkeypatch.setattr(PostgresSource, "read_partition", real)
    sluice("run public.events", ok=True)
    assert same_rows(_source_rows(source), duckdb_table(workdir / "wh.duckdb", "events"), ["id"])


def test_a_range_whose_reader_goes_silent_is_given_up_and_the_extract_tried_again(
    sluice: Sluice,
    source: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reader that stops beating (its worker killed or hung) is given up on after
    LOST_AFTER_S: the attempt fails as retryable with nothing published, the reader, once it
    goes on, is refused at its next beat and removes what it wrote, and the next attempt
    commits an exact batch."""
    _configure(sluice, source, 2)
    monkeypatch.setattr(partitioned_extract, "LOST_AFTER_S", 1.0)
    monkeypatch.setattr(partitioned_extract, "BEAT_EVERY_S", 0.0)
    monkeypatch.setenv("SLUICE_RETRY_BASE", "0.01")
    real = PostgresSource.read_partition
    release = threading.Event()
    hung: list[str] = []

    def hangs(self: PostgresSource, request: Any, spec: dict[str, Any]) -> Any:
        if spec["low"] is not None and not hung:  # the second range, the first time
            hung.append(threading.current_thread().name)
            release.wait(30)
        yield from real(self, request, spec)

    joined = partitioned_extract.ThreadFanOut.close

    def close(self: partitioned_extract.ThreadFanOut) -> None:
        release.set()  # the hung reader goes on now, and is refused at its next beat
        joined(self)

    monkeypatch.setattr(PostgresSource, "read_partition", hangs)
    monkeypatch.setattr(partitioned_extract.ThreadFanOut, "close", close)
    result = json.loads(sluice("run public.events --hop source_to_dl --json", ok=True).out)
    assert hung and result["status"] == "success"
    extract = result["stages"][1]
    assert extract["attempts"] == 2 and extract["rows_processed"] == ROWS
    assert "attempt 1 failed: range 2 of 2 of the read" in caplog.text
    assert "has not been heard of" in caplog.text
    assert len(_parts(workdir)) == 2  # the given-up attempt's parts are gone
    lake = ds.dataset([str(p) for p in _part_paths(workdir)], format="parquet").to_table()
    assert sorted(lake.column("id").to_pylist()) == list(range(1, ROWS + 1))


# ---- MySQL / MariaDB: primary key ranges, the snapshots made equal by a brief table lock ----
@pytest.fixture
def mysql_source(mysql_database: str) -> Iterator[str]:
    import pymysql

    connection = pymysql.connect(**_mysql_args(mysql_database), autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, kind varchar(20), "
            "amount decimal(12, 2), at datetime(6)) ENGINE=InnoDB"
        )
        cursor.execute(
            "INSERT INTO events SELECT seq, CONCAT('k', seq % 7), seq * 1.25, "
            "TIMESTAMP('2024-01-01') + INTERVAL seq MINUTE FROM seq_1_to_20000"
        )
    connection.close()
    yield mysql_database


def _mysql_args(url: str) -> dict[str, Any]:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return {
        "host": parsed.hostname,
        "port": parsed.port,
        "user": parsed.username,
        "database": parsed.path.lstrip("/"),
    }


def _mysql_rows(url: str) -> list[tuple[Any, ...]]:
    import pymysql

    connection = pymysql.connect(**_mysql_args(url))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, kind, amount FROM events ORDER BY id")
        rows = [tuple(row) for row in cursor.fetchall()]
    connection.close()
    return rows


@pytest.mark.mysql
def test_a_mysql_table_is_read_in_key_ranges_that_see_one_state(
    sluice: Sluice, mysql_source: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that comes while the ranges begin waits for the table lock and lands after
    every range's snapshot: the lake holds the rows as they were, the count agrees, and the
    write is not lost (it is there for the next run)."""
    import pymysql

    from sluice.connectors.mysql.source import MySQLSource

    sluice("init", ok=True)
    creds = json.dumps({"url": mysql_source})
    sluice(f"source add my --type mysql --creds '{creds}'", ok=True)
    sluice("destination add wh --type duckdb --creds", json.dumps({"path": "wh.duckdb"}), ok=True)
    sluice("table add events --source my --destination wh --primary-key id --partitions 3", ok=True)
    before = _mysql_rows(mysql_source)
    real = MySQLSource.read_partition
    writers: list[threading.Thread] = []
    lock = threading.Lock()

    def write() -> None:
        connection = pymysql.connect(**_mysql_args(mysql_source), autocommit=True)
        with connection.cursor() as cursor:  # waits while the extract holds the table
            cursor.execute("INSERT INTO events VALUES (20001, 'late', 1, NOW())")
            cursor.execute("DELETE FROM events WHERE id = 1")
        connection.close()

    def with_a_writer(self: MySQLSource, request: Any, spec: dict[str, Any]) -> Any:
        with lock:
            if not writers:
                writers.append(threading.Thread(target=write))
                writers[0].start()
        return real(self, request, spec)

    monkeypatch.setattr(MySQLSource, "read_partition", with_a_writer)
    result = json.loads(sluice("run events --json", ok=True).out)
    writers[0].join(30)
    assert not writers[0].is_alive()  # the lock was released: the writer went on
    assert result["status"] == "success"
    assert [s["rows_processed"] for s in result["stages"]] == [0, 20000, 20000, 0, 20000, 20000]
    assert len(_parts(workdir)) == 3
    loaded = duckdb_table(workdir / "wh.duckdb", "events").sort_by("id")
    got = list(
        zip(
            loaded.column("id").to_pylist(),
            loaded.column("kind").to_pylist(),
            loaded.column("amount").to_pylist(),
            strict=True,
        )
    )
    assert got == before
    after = _mysql_rows(mysql_source)
    assert after[0][0] == 2 and after[-1][0] == 20001  # the write landed, after the read


@pytest.mark.mysql
def test_a_mysql_range_that_begins_after_the_lock_was_released_fails_clearly(
    sluice: Sluice, mysql_source: str, workdir: Path
) -> None:
    """A range begun once the extract let the table go could see other rows: refused."""
    from sluice.connectors.base import ReadRequest
    from sluice.connectors.mysql.config import MySQLCreds
    from sluice.connectors.mysql.source import MySQLSource
    from sluice.core.models import TableRef

    source = MySQLSource(MySQLCreds.model_validate({"url": mysql_source}))
    request = ReadRequest(table=TableRef.parse("events"))
    with source.partitions(request, None) as by_size:
        assert by_size is None  # never split unasked: writers would wait for its lock
    with source.partitions(request, 2) as partitioning:
        assert partitioning is not None and partitioning.started is not None
        partitioning.started()  # released before the second range begins
        with pytest.raises(TerminalError, match="began its snapshot after the extract"):
            list(source.read_partition(request, partitioning.specs[1]))


def test_the_partitions_setting_is_checked_shown_and_reset(
    sluice: Sluice, source: str, workdir: Path
) -> None:
    _configure(sluice, source, 4)
    assert sluice("table show public.events --json", ok=True).json()["partitions"] == 4
    refused = sluice("table edit public.events --partitions 65", ok=False)
    assert "partitions 65 must be a whole number from 1 to 64" in refused.err
    sluice("table edit public.events --partitions 0", ok=True)  # back to: by size
    assert sluice("table show public.events --json", ok=True).json()["partitions"] is None
    # Locally, by size means one read (the PostgreSQL source's own two streams): no ranges.
    sluice("run public.events --hop source_to_dl", ok=True)
    parts = _parts(workdir)
    assert parts and not any(name.startswith("r1-") for name in parts)


def test_ranges_on_an_s3_lake(sluice: Sluice, source: str, workdir: Path, s3_endpoint: str) -> None:
    """The ranges' parts are uploaded beside each other and committed as one batch there."""
    sluice(f"init --lake s3://{BUCKET}/sluice", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': source})}'", ok=True)
    sluice("destination add wh --type duckdb --creds", json.dumps({"path": "wh.duckdb"}), ok=True)
    sluice("table add public.events --source src --destination wh --primary-key id --partitions 3")
    result = json.loads(sluice("run public.events --json", ok=True).out)
    assert result["status"] == "success"
    keys = s3_keys(s3_endpoint, "sluice/src/public.events/")
    assert len([k for k in keys if re.search(r"/r1-[0-9a-f]{6}-p00\d-part-", k)]) == 3
    assert same_rows(_source_rows(source), duckdb_table(workdir / "wh.duckdb", "events"), ["id"])
