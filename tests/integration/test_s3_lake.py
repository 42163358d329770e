"""The lake on an S3-protocol server (moto, on loopback), through the production code path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CHINOOK_SQLITE, PROJECT, Sluice
from tests.iceberg import iceberg_s3_properties, iceberg_table
from tests.integration.sinks import duckdb_table, same_rows, sqlite_table
from tests.integration.test_chinook_cli import chinook_tables
from tests.s3 import BUCKET, s3_endpoint, s3_keys

__all__ = ["s3_endpoint"]
LAKE = f"s3://{BUCKET}/sluice"


def configure(sluice: Sluice, workdir: Path, lake: str) -> None:
    sluice(f"init --lake {lake}", ok=True)
    sluice(
        f"source add chinook --type sqlite --creds '{json.dumps({'path': str(CHINOOK_SQLITE)})}'",
        ok=True,
    )
    sink = {"path": str(workdir / "wh.duckdb")}
    sluice(f"destination add wh --type duckdb --creds '{json.dumps(sink)}'", ok=True)


def test_chinook_through_an_s3_lake(sluice: Sluice, workdir: Path, s3_endpoint: str) -> None:
    configure(sluice, workdir, LAKE)
    tables = chinook_tables()
    for name, key in tables.items():
        sluice(
            f"table add {name} --source chinook --destination wh --primary-key {','.join(key)}",
            ok=True,
        )
        sluice(f"run {name}", ok=True)
    for name, key in tables.items():
        assert same_rows(
            sqlite_table(CHINOOK_SQLITE, name), duckdb_table(workdir / "wh.duckdb", name), key
        )
    shown = sluice("runs show 1 --json", ok=True).json()
    extract = next(s for s in shown["stages"] if s["stage_type"] == "extract")
    assert extract["file_paths"][0].startswith(f"{LAKE}/chinook/")
    assert not (workdir / "lake").exists()
    assert any(k.endswith("/_manifest.json") for k in s3_keys(s3_endpoint, "sluice/chinook/Album/"))


def test_the_lake_is_an_iceberg_table_pyiceberg_and_polars_read_locally_and_on_s3(
    sluice: Sluice, workdir: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sluice code: the Iceberg catalog in the config database and the table it names."""
    monkeypatch.setenv("POLARS_ICEBERG_PLANNER", "pyiceberg")  # its plugin is not installed
    expected = sqlite_table(CHINOOK_SQLITE, "Track")
    for index, lake in enumerate((str(workdir / "lake"), LAKE)):
        config = workdir / f"config{index}.db"
        db = f"--config-db {config}"
        source = json.dumps({"path": str(CHINOOK_SQLITE)})
        sink = workdir / f"wh{index}.duckdb"
        sluice(f"{db} init --lake {lake}", ok=True)
        sluice(f"{db} source add chinook --type sqlite --creds '{source}'", ok=True)
        sluice(
            f"{db} destination add wh --type duckdb --creds '{json.dumps({'path': str(sink)})}'",
            ok=True,
        )
        sluice(
            f"{db} table add Track --source chinook --destination wh --load incremental "
            "--key TrackId --sink-load incremental --primary-key TrackId",
            ok=True,
        )
        sluice(f"{db} run Track", ok=True)
        loaded = duckdb_table(sink, "Track")
        s3 = lake.startswith("s3://")
        table = iceberg_table(config, lake if s3 else f"file://{lake}", s3_endpoint if s3 else None)
        via_pyiceberg = table.scan().to_arrow()
        options = iceberg_s3_properties(s3_endpoint) if s3 else None
        via_polars = pl.scan_iceberg(table, storage_options=options).collect().to_arrow()
        assert same_rows(loaded, via_pyiceberg, ["TrackId"]), lake
        assert same_rows(expected, via_pyiceberg, ["TrackId"]), lake
        assert same_rows(expected, via_polars, ["TrackId"]), lake


@pytest.mark.parametrize(
    "point", ["extract:between_batches", "lake:before_manifest", "lake:before_publish"]
)
def test_a_kill_during_the_upload_leaves_nothing_visible(
    sluice: Sluice, workdir: Path, s3_endpoint: str, point: str
) -> None:
    source = workdir / "src.db"
    with sqlite3.connect(source) as c:
        c.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT, k INTEGER NOT NULL)")
        c.executemany(
            "INSERT INTO events VALUES (?, ?, ?)", [(i, "x" * 50, i // 4) for i in range(400)]
        )
    sluice(f"init --lake {LAKE}", ok=True)
    sluice(f"source add src --type sqlite --creds '{json.dumps({'path': str(source)})}'", ok=True)
    sluice(
        "destination add wh --type duckdb --creds",
        json.dumps({"path": str(workdir / "wh.duckdb")}),
        ok=True,
    )
    sluice(
        "table add events --source src --destination wh --load incremental --key k "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "SLUICE_READ_BATCH_ROWS": "50",
        "SLUICE_CRASH_AT": point,
    }
    killed = subprocess.run(
        [sys.executable, "-m", "sluice", "run", "events"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr
    assert not [k for k in s3_keys(s3_endpoint) if k.endswith("/_manifest.json")]
    hop2 = sluice("run events --hop dl_to_sink")
    assert hop2.code == 1 and "no committed batch" in hop2.err  # hop 2 sees nothing
    sluice("run events", ok=True)
    loaded = duckdb_table(workdir / "wh.duckdb", "events")
    assert loaded.num_rows == 400
    assert same_rows(sqlite_table(source, "events"), loaded, ["id"])
    manifests = [k for k in s3_keys(s3_endpoint) if k.endswith("/_manifest.json")]
    assert len(manifests) == 1


LAKE_SECRET = "S3-Lake-Opt10ns-Pl4nted-S3cret-7731"
AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
)


@pytest.mark.parametrize("secret_given", ["inline", "env reference"])
def test_lake_options_in_the_config_database_stand_in_for_the_aws_variables(
    sluice: Sluice,
    workdir: Path,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    secret_given: str,
) -> None:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The AWS chain would find nothing: no variables, no config or credentials file.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workdir / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workdir / "no-aws-credentials"))
    source = workdir / "src.db"
    with sqlite3.connect(source) as c:
        c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        c.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"item {i}") for i in range(120)])
    secret: object = LAKE_SECRET
    if secret_given == "env reference":
        monkeypatch.setenv("SLUICE_TEST_LAKE_SECRET", LAKE_SECRET)
        secret = {"env": "SLUICE_TEST_LAKE_SECRET"}
    options = {
        "endpoint_url": s3_endpoint,
        "region": "us-east-1",
        "access_key_id": "AKIASLUICELAKE",
        "secret_access_key": secret,
    }
    outputs = []

    def step(command: str) -> None:
        result = sluice(command, ok=True)
        outputs.append(result.out + result.err)

    step(f"init --lake {LAKE} --lake-options '{json.dumps(options)}'")
    step(f"source add src --type sqlite --creds '{json.dumps({'path': str(source)})}'")
    step(f"destination add wh --type duckdb --creds '{json.dumps({'path': 'wh.duckdb'})}'")
    step("table add items --source src --destination wh --primary-key id")
    step("scheduler --once")  # hop 1, in a child process the scheduler starts
    step("runs --json")
    assert [(r["hop"], r["status"], r["error_message"]) for r in json.loads(outputs[-1])] == [
        ("source_to_dl", "success", None)
    ]
    step("run items --hop dl_to_sink")  # hop 2, in this process
    step("lake ls items")
    step("lake options")
    step("runs show 2")

    loaded = duckdb_table(workdir / "wh.duckdb", "items")
    assert loaded.num_rows == 120
    assert same_rows(sqlite_table(source, "items"), loaded, ["id"])
    assert any(k.endswith("/_manifest.json") for k in s3_keys(s3_endpoint, "sluice/src/items/"))
    assert "secret_access_key" in outputs[-2]
    assert all(LAKE_SECRET not in output for output in outputs)
    stored = b"".join(p.read_bytes() for p in (workdir / "databases").rglob("config.db*"))
    assert stored and LAKE_SECRET.encode() not in stored


def test_compaction_on_an_s3_lake(sluice: Sluice, workdir: Path, s3_endpoint: str) -> None:
    """stages/compaction.py through the S3 filesystem: the rows pyiceberg reads are the same,
    the covered batches' objects are gone, and hop 2 goes on exactly."""
    from tests.integration.test_lake_compaction import _source, _write, make_events

    lake = f"{LAKE}/compaction"
    make_events(sluice, workdir, 3, lake)
    config = workdir / "databases/config_db/data/config.db"

    def lake_rows() -> list[tuple[object, ...]]:
        table = iceberg_table(config, lake, s3_endpoint, name=("src", "events"))
        rows = table.scan().to_arrow()
        return sorted(zip(*(rows.column(c).to_pylist() for c in ("id", "v", "u")), strict=True))

    before = lake_rows()
    assert sluice("lake compact events --json", ok=True).json()["compacted"] == [1, 2, 3]
    assert lake_rows() == before
    keys = s3_keys(s3_endpoint, "sluice/compaction/src/events/")
    batches = {k.split("/")[4] for k in keys if "/batch=" in k}
    assert len(batches) == 1 and batches.pop().startswith("batch=00000003-c"), keys
    _write(workdir, range(0, 3), "c")
    sluice("run events", ok=True)
    assert same_rows(duckdb_table(workdir / "wh.duckdb", "events"), _source(workdir), ["id"])
