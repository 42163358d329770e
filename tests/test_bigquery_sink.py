"""What the BigQuery sink does beyond the conformance suite, against its stand-in (bqemulator,
tests/bigquery_emulator.py): every lake type loaded exactly, values and types it refuses,
partitioning and clustering, a replace killed after its swap, and a service account login."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from sluice.connectors import registry
from sluice.connectors.base import LoadRequest
from sluice.connectors.bigquery.layout import layout_sql
from sluice.connectors.bigquery.types import staged_columns, writable
from sluice.core.errors import TerminalError
from sluice.core.infinity import mark_infinite
from sluice.core.models import LoadMode, TableRef
from tests import bigquery_emulator
from tests.conformance.systems import BigQuerySystem, SQLiteSystem
from tests.conftest import Sluice
from tests.processes import sluice_process


@pytest.fixture
def warehouse() -> BigQuerySystem:
    return BigQuerySystem(bigquery_emulator.fresh_dataset())


@pytest.fixture
def source(workdir: Path) -> SQLiteSystem:
    return SQLiteSystem(workdir / "source.sqlite")


def _load(creds: dict[str, Any], table: str, batch: pa.RecordBatch, **options: Any) -> None:
    sink = registry.open_sink("bigquery", creds)
    try:
        request = LoadRequest(
            table=TableRef(table), mode=LoadMode.REPLACE, schema=batch.schema,
            lake_table=f"src/{table}", batch_ids=(1,), run_id=1, **options,
        )  # fmt: skip
        sink.load(request, iter([batch]))
    finally:
        sink.close()


def test_every_lake_type_arrives_exactly_in_its_declared_type(warehouse: BigQuerySystem) -> None:
    first, last = datetime(1, 1, 1, 0, 0, 0, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)
    columns = {
        "id": pa.array([1, 2, 3], pa.int64()),
        "tiny": pa.array([-128, 127, None], pa.int8()),
        "huge": pa.array([0, 18446744073709551615, None], pa.uint64()),
        "ratio": pa.array([1.5, -0.0, None], pa.float32()),
        "price": pa.array([Decimal("-9999999999.99"), Decimal("0.01"), None], pa.decimal128(12, 2)),
        "fine": pa.array([Decimal("12345678901234567890123456789.123456789"), Decimal(0), None],
                         pa.decimal128(38, 9)),
        "name": pa.array(["ü 日本 🎉 'q' \"d\" \\ `b`", "", None]),
        "blob": pa.array([b"\x00\xff", b"", None]),
        "flag": pa.array([True, False, None]),
        "day": pa.array([date(1, 1, 1), date(9999, 12, 31), None]),
        "at": pa.array([first, last, None], pa.timestamp("us")),
        "at_utc": pa.array([datetime(2024, 2, 29, 12, tzinfo=UTC), None, None],
                           pa.timestamp("us", "UTC")),
        "clock": pa.array([time(0, 0), time(23, 59, 59, 999999), None], pa.time64("us")),
        "nothing": pa.array([None, None, None], pa.null()),
    }  # fmt: skip
    _load(warehouse.creds(), "types", pa.RecordBatch.from_pydict(columns))
    declared = bigquery_emulator.rows(
        warehouse.creds(),
        f"SELECT column_name, data_type FROM `{bigquery_emulator.PROJECT}."
        f"{warehouse.creds()['dataset']}`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'types' "
        "ORDER BY ordinal_position",
    )
    # The emulator shows NUMERIC without its digits (BigQuery: NUMERIC(12, 2)).
    assert [kind for _, kind in declared] == [
        "INT64", "INT64", "NUMERIC", "FLOAT64", "NUMERIC", "NUMERIC", "STRING", "BYTES",
        "BOOL", "DATE", "DATETIME", "TIMESTAMP", "TIME", "STRING",
    ]  # fmt: skip
    got = warehouse.rows("types", "id")
    expected = [tuple(columns[c][i].as_py() for c in columns) for i in range(3)]
    assert got == expected
    assert [repr(row[4]) for row in got] == [
        "Decimal('-9999999999.99')", "Decimal('0.01')", "None"
    ]  # fmt: skip


def _refusal(field: pa.Field, values: pa.Array) -> str:
    """The message of the refusal of a batch of one column."""
    schema = pa.schema([field])
    with pytest.raises(TerminalError) as refused:
        columns = staged_columns(TableRef("t"), schema)
        writable(TableRef("t"), pa.RecordBatch.from_arrays([values], schema=schema), columns)
    return str(refused.value)


@pytest.mark.parametrize(
    ("field", "values", "why"),
    [
        (pa.field("at", pa.timestamp("ns")), pa.array([1_000_000_001], pa.timestamp("ns")),
         "cannot hold exactly"),
        (pa.field("day", pa.date32()), pa.array([date(9999, 12, 31)]).cast(pa.int32()).cast(
            pa.date32()), None),
        (pa.field("day", pa.date32()), pa.array([2932897], pa.int32()).cast(pa.date32()),
         "outside BigQuery's DATE range"),
        (pa.field("at", pa.timestamp("us")),
         pa.array([253402300800000000], pa.int64()).cast(pa.timestamp("us")),
         "outside BigQuery's DATETIME range"),
        (pa.field("wide", pa.decimal256(60, 39)), pa.array([None], pa.decimal256(60, 39)),
         "38 digits before the point and 38 after"),
        (pa.field("tags", pa.list_(pa.int64())), pa.array([[1]]),
         "no BigQuery column holds exactly"),
        (pa.field("span", pa.month_day_nano_interval()),
         pa.array([None], pa.month_day_nano_interval()), "no BigQuery column holds exactly"),
    ],
)  # fmt: skip
def test_values_bigquery_cannot_hold_are_refused_naming_the_column(
    field: pa.Field, values: pa.Array, why: str | None
) -> None:
    if why is None:  # the edge itself fits
        columns = staged_columns(TableRef("t"), pa.schema([field]))
        batch = pa.RecordBatch.from_arrays([values], schema=pa.schema([field]))
        assert writable(TableRef("t"), batch, columns).num_rows == 1
        return
    message = _refusal(field, values)
    assert f"column {field.name!r} of sink table t" in message
    assert why in message and "nothing was loaded" in message


def test_whole_nanoseconds_load_and_infinities_are_refused() -> None:
    schema = pa.schema([pa.field("at", pa.timestamp("ns"))])
    batch = pa.RecordBatch.from_arrays(
        [pa.array([1_000_000_000], pa.timestamp("ns"))], schema=schema
    )
    written = writable(TableRef("t"), batch, staged_columns(TableRef("t"), schema))
    assert written.column(0).to_pylist() == [datetime(1970, 1, 1, 0, 0, 1)]
    infinite = mark_infinite(pa.schema([pa.field("day", pa.date32())]), {"day"})
    with pytest.raises(TerminalError, match=r"column 'day' .* holds \+/-infinity"):
        staged_columns(TableRef("t"), infinite)


def test_names_bigquery_refuses_fail_before_anything_is_loaded(warehouse: BigQuerySystem) -> None:
    batch = pa.RecordBatch.from_pydict({"id": [1], 'say "hi"': ["x"]})
    with pytest.raises(TerminalError, match=r"""column 'say "hi"' .* holds '"'"""):
        _load(warehouse.creds(), "t", batch)
    with pytest.raises(TerminalError, match=r"sink table name 'a;b' holds ';'.*--sink-table"):
        _load(warehouse.creds(), "a;b", pa.RecordBatch.from_pydict({"id": [1]}))
    assert warehouse.tables() == []


def test_a_table_is_partitioned_and_clustered_as_configured(
    sluice: Sluice, source: SQLiteSystem, warehouse: BigQuerySystem
) -> None:
    source.create("events", {"id": "INTEGER", "day": "DATE", "kind": "TEXT"})
    source.insert("events", ["id", "day", "kind"], [(1, "2024-01-01", "a"), (2, "2024-01-02", "b")])
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps(source.creds()), ok=True)
    sluice("destination add dst --type bigquery --creds", json.dumps(warehouse.creds()), ok=True)
    sluice("destination add duck --type duckdb --creds", '{"path": "d.duckdb"}', ok=True)
    options = "--source src --primary-key id --partition-by day --cluster-by kind,id"
    refused = sluice(f"table add events --destination duck {options}")
    assert refused.code != 0 and "duckdb sink tables have no partitioning" in refused.err
    bad = sluice("table add events --destination dst --source src --partition-by day:week")
    assert bad.code != 0 and "is not a partitioning" in bad.err
    sluice(f"table add events --destination dst {options}", ok=True)
    shown = sluice("table show events --json", ok=True).json()
    assert (shown["sink_partition_by"], shown["sink_cluster_by"]) == ("day", ["kind", "id"])
    sluice("run events", ok=True)
    client = bigquery_emulator.client()
    try:
        made = client.get_table(
            f"{bigquery_emulator.PROJECT}.{warehouse.creds()['dataset']}.events"
        )
    finally:
        client.close()
    # The emulator records a partitioning by a plain column; clustering it accepts unrecorded.
    assert made.time_partitioning is not None and made.time_partitioning.field == "day"
    assert warehouse.rows("events", "id") == [
        (1, date(2024, 1, 1), "a"),
        (2, date(2024, 1, 2), "b"),
    ]
    sluice("table edit events --partition-by '' --cluster-by ''", ok=True)
    assert sluice("table show events --json", ok=True).json()["sink_cluster_by"] == []


@pytest.mark.parametrize(
    ("spec", "types", "clause"),
    [
        ("d", {"d": "DATE"}, "PARTITION BY `d`"),
        ("d:month", {"d": "DATE"}, "PARTITION BY DATE_TRUNC(`d`, MONTH)"),
        ("t", {"t": "TIMESTAMP"}, "PARTITION BY DATE(`t`)"),
        ("t:hour", {"t": "DATETIME"}, "PARTITION BY DATETIME_TRUNC(`t`, HOUR)"),
        (
            "n:0:100:10",
            {"n": "INT64"},
            "PARTITION BY RANGE_BUCKET(`n`, GENERATE_ARRAY(0, 100, 10))",
        ),
    ],
)
def test_partitionings_as_bigquery_spells_them(
    spec: str, types: dict[str, str], clause: str
) -> None:
    assert layout_sql(TableRef("t"), spec, (), types) == clause


def test_a_partitioning_that_does_not_fit_the_table_is_named() -> None:
    with pytest.raises(TerminalError, match="names column 'gone'"):
        layout_sql(TableRef("t"), "gone", (), {"d": "DATE"})
    with pytest.raises(TerminalError, match="an integer range needs an INT64 column"):
        layout_sql(TableRef("t"), "d:0:10:1", (), {"d": "DATE"})
    with pytest.raises(TerminalError, match="column 'n' is INT64"):
        layout_sql(TableRef("t"), "n:day", (), {"n": "INT64"})


def test_a_replace_killed_after_its_swap_is_loaded_whole_next_time(
    sluice: Sluice, workdir: Path, source: SQLiteSystem, warehouse: BigQuerySystem
) -> None:
    source.create("t", {"id": "INTEGER", "name": "TEXT"})
    source.insert("t", ["id", "name"], [(1, "a"), (2, "b")])
    # In this process: only the run that a crash point kills needs a child of its own.
    sluice("init", ok=True)
    sluice("source add src --type sqlite --creds", json.dumps(source.creds()), ok=True)
    sluice("destination add dst --type bigquery --creds", json.dumps(warehouse.creds()), ok=True)
    sluice("table add t --source src --destination dst --primary-key id", ok=True)
    sluice("run t", ok=True)
    # A new column: the live table no longer holds the rows as it is, so the load swaps a new
    # table in (CREATE OR REPLACE ... AS SELECT); killed right after, before the state rows.
    source.execute("ALTER TABLE t ADD COLUMN extra TEXT")
    source.execute("UPDATE t SET extra = 'x'")
    killed = sluice_process(workdir, "run", "t", crash_at="load:after_swap")
    assert killed.returncode != 0
    assert warehouse.rows("t", "id") == [(1, "a", "x"), (2, "b", "x")]
    # The next load finds the intent, takes every batch again, and an append would refuse.
    sluice("run t --json", ok=True)
    assert warehouse.rows("t", "id") == [(1, "a", "x"), (2, "b", "x")]
    assert [n for n in warehouse.tables() if n.startswith("__sluice")] == []
    state = bigquery_emulator.rows(warehouse.creds(), "SELECT batch_id FROM _sluice_state")
    assert all(batch_id > 0 for (batch_id,) in state)


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint as a service account's key names it (token_uri): takes
    the signed JWT assertion, answers an access token."""

    assertions: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).assertions.append(body)
        answer = json.dumps({"access_token": f"ya29.{uuid.uuid4().hex}", "expires_in": 3600,
                             "token_type": "Bearer"}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_uri() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_service_account_logs_in_and_its_key_never_shows(
    sluice: Sluice, warehouse: BigQuerySystem, token_uri: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    key = {"type": "service_account", "project_id": "test-project", "private_key_id": "k1",
           "private_key": pem, "client_email": "loader@test-project.iam.gserviceaccount.com",
           "client_id": "1", "token_uri": token_uri}  # fmt: skip
    creds = {k: v for k, v in warehouse.creds().items() if k != "anonymous"}
    creds["service_account"] = json.dumps(key)
    sluice("init", ok=True)
    sluice("destination add dst --type bigquery --creds", json.dumps(creds), ok=True)
    assert any("jwt-bearer" in body for body in _TokenEndpoint.assertions)
    shown = sluice("destination show dst --json", ok=True).out
    assert "PRIVATE KEY" not in shown and pem.splitlines()[1] not in shown
    bad = {**creds, "service_account": json.dumps({**key, "private_key": "not a key"})}
    failed = sluice("destination add bad --type bigquery --creds", json.dumps(bad))
    assert failed.code != 0 and "'service_account' cannot be used" in failed.err
    assert len(failed.err.strip().splitlines()) == 1
