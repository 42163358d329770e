"""What the Snowflake sink does beyond the conformance suite, against its stand-in (fakesnow's
server, tests/snowflake_fake.py): the lake's own files loaded by reference, a replace killed
after its swap, key-pair logins, and the types it refuses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest

from sluice.connectors.snowflake.types import staged_columns
from sluice.core.errors import TerminalError
from sluice.core.infinity import mark_infinite
from sluice.core.models import TableRef
from tests import snowflake_fake
from tests.conformance.systems import SnowflakeSystem, SQLiteSystem
from tests.conftest import Sluice
from tests.processes import sluice_process


@pytest.fixture
def warehouse() -> SnowflakeSystem:
    return SnowflakeSystem(snowflake_fake.fresh_database())


@pytest.fixture
def source(workdir: Path) -> SQLiteSystem:
    return SQLiteSystem(workdir / "source.sqlite")


def _configure(sluice: Sluice, source: SQLiteSystem, sink: SnowflakeSystem, *table: str) -> None:
    # In this process: only the runs that a crash point kills need a child of their own.
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps(source.creds()), ok=True)
    sluice("destination add dst --type snowflake --creds", json.dumps(sink.creds()), ok=True)
    sluice("table add", *table, "--source", "src", "--destination", "dst", ok=True)


def test_the_lakes_own_files_are_loaded_by_reference(
    sluice: Sluice,
    source: SQLiteSystem,
    warehouse: SnowflakeSystem,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source.create("log", {"id": "INTEGER", "line": "TEXT", "price": "NUMERIC(8,2)"}, key=None)
    source.insert("log", ["id", "line", "price"], [(1, "a", "1.50"), (2, "b", None)])
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps(source.creds()), ok=True)
    sluice("destination add dst --type snowflake --creds", json.dumps(warehouse.creds()), ok=True)
    sluice(
        "table add log --source src --destination dst --load incremental --key id "
        "--sink-load incremental",
        ok=True,
    )
    with caplog.at_level(logging.INFO, logger="sluice.snowflake"):
        sluice("run log", ok=True)
        source.insert("log", ["id", "line", "price"], [(3, "c", "-2.25")])
        sluice("run log", ok=True)
    by_reference = [r.getMessage() for r in caplog.records if "as they are" in r.getMessage()]
    assert len(by_reference) == 2, caplog.text
    from decimal import Decimal

    assert warehouse.rows("log", '"id"') == [
        (1, "a", Decimal("1.50")),
        (2, "b", None),
        (3, "c", Decimal("-2.25")),
    ]


def test_rows_that_need_deduplicating_are_written_afresh(
    sluice: Sluice,
    source: SQLiteSystem,
    warehouse: SnowflakeSystem,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two lake batches holding versions of one key: the newest wins, which needs the rows'
    order, so the sink writes them to new files with their ordinal."""
    source.create("t", {"id": "INTEGER", "name": "TEXT", "n": "INTEGER"})
    source.insert("t", ["id", "name", "n"], [(1, "a", 1)])
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps(source.creds()), ok=True)
    sluice("destination add dst --type snowflake --creds", json.dumps(warehouse.creds()), ok=True)
    sluice(
        "table add t --source src --destination dst --primary-key id --load incremental --key n",
        ok=True,
    )
    sluice("run t --hop source_to_dl", ok=True)
    source.execute("UPDATE t SET name = 'a2', n = 2 WHERE id = 1")
    sluice("run t --hop source_to_dl", ok=True)
    with caplog.at_level(logging.INFO, logger="sluice.snowflake"):
        sluice("run t --hop dl_to_sink", ok=True)
    assert "as they are" not in caplog.text
    assert warehouse.rows("t", '"id"') == [(1, "a2", 2)]


def test_a_replace_killed_after_its_swap_is_loaded_whole_next_time(
    sluice: Sluice, workdir: Path, source: SQLiteSystem, warehouse: SnowflakeSystem
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(1, "a"), (2, "b")])
    _configure(sluice, source, warehouse, "t", "--primary-key", "id")
    sluice("run t", ok=True)
    # A new column: the live table no longer holds the rows as it is, so the load builds a
    # new table and swaps it in; killed right after the swap, before the state rows.
    source.execute("ALTER TABLE t ADD COLUMN extra TEXT")
    source.execute("UPDATE t SET extra = 'x'")
    killed = sluice_process(workdir, "run", "t", crash_at="load:after_swap")
    assert killed.returncode != 0
    assert warehouse.rows("t", '"id"') == [(1, "a", "x"), (2, "b", "x")]
    sluice("run t --json", ok=True)
    assert warehouse.rows("t", '"id"') == [(1, "a", "x"), (2, "b", "x")]
    assert [n for n in warehouse.tables() if n.startswith("__sluice")] == []
    again = sluice("run t --json", ok=True).json()
    assert {s["stage_type"]: s["rows_processed"] for s in again["stages"]}["load"] == 2


def test_an_append_after_an_interrupted_replace_refuses_with_the_fix(
    sluice: Sluice, workdir: Path, source: SQLiteSystem, warehouse: SnowflakeSystem
) -> None:
    source.create("log", {"id": "INTEGER", "line": "TEXT"}, key=None)
    source.insert("log", ["id", "line"], [(1, "a"), (2, "b")])
    _configure(
        sluice, source, warehouse, "log", "--load", "incremental", "--key", "id",
        "--sink-load", "incremental",
    )  # fmt: skip
    sluice("run log", ok=True)
    source.execute("ALTER TABLE log ADD COLUMN extra TEXT")
    source.insert("log", ["id", "line", "extra"], [(3, "c", "x")])
    sluice("run log --hop source_to_dl", ok=True)
    killed = sluice_process(
        workdir, "table", "reload", "log", "--hop", "dl_to_sink", crash_at="load:after_swap"
    )
    assert killed.returncode != 0
    source.insert("log", ["id", "line", "extra"], [(4, "d", "y")])
    refused = sluice("run log")
    assert refused.code != 0
    assert "appending could double them" in refused.err
    assert "sluice table reload log --hop dl_to_sink" in refused.err
    sluice("table reload log --hop dl_to_sink", ok=True)
    # Row 2, read again at the watermark with the added column NULL, is the row already held
    # (a NULL leaves no trace in a row's identity: stages/row_identity.py), not appended twice.
    assert warehouse.rows("log", '"id", "extra"') == [
        (1, "a", None), (2, "b", None), (3, "c", "x"), (4, "d", "y"),
    ]  # fmt: skip


def test_a_key_pair_logs_in_and_an_unreadable_key_is_named(
    sluice: Sluice, warehouse: SnowflakeSystem
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"phrase-8kd"),
    ).decode()
    creds = {k: v for k, v in warehouse.creds().items() if k != "password"}
    sluice("init", ok=True)
    keyed = {**creds, "private_key": pem, "private_key_passphrase": "phrase-8kd"}
    sluice("destination add dst --type snowflake --creds", json.dumps(keyed), ok=True)
    shown = sluice("destination show dst --json", ok=True).out
    assert "BEGIN ENCRYPTED" not in shown and "phrase-8kd" not in shown
    wrong = {**creds, "private_key": pem, "private_key_passphrase": "not-it"}
    failed = sluice("destination add bad --type snowflake --creds", json.dumps(wrong))
    assert failed.code != 0
    assert "'private_key' cannot be read" in failed.err
    assert "not-it" not in failed.err and pem.splitlines()[1] not in failed.err


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        (pa.decimal256(40, 2), "at most 38 digits"),
        (pa.list_(pa.int64()), "no Snowflake column holds exactly"),
        (pa.month_day_nano_interval(), "no Snowflake column holds exactly"),
    ],
)
def test_types_snowflake_cannot_hold_are_refused_naming_the_column(
    kind: pa.DataType, why: str
) -> None:
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("odd", kind)])
    with pytest.raises(TerminalError, match=f"column 'odd' of sink table t .*{why}"):
        staged_columns(TableRef("t"), schema)


def test_infinite_dates_are_refused_naming_the_column() -> None:
    schema = mark_infinite(pa.schema([pa.field("day", pa.date32())]), {"day"})
    with pytest.raises(TerminalError, match=r"column 'day' .* holds \+/-infinity"):
        staged_columns(TableRef("t"), schema)
