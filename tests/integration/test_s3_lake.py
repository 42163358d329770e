"""The lake on an S3-protocol server (moto, on loopback), through the production code path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.conftest import CHINOOK_SQLITE, PROJECT, Sluice
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


def committed_parts(manifests: list[dict[str, Any]], base: str) -> list[str]:
    """Part files of committed batches only: the documented way to read a sluice lake."""
    files = []
    for manifest in manifests:
        batch = f"{base}/batch={int(manifest['sequence']):08d}"
        files += [f"{batch}/{part['path']}" for part in manifest["parts"]]
    return files


def s3_manifests(endpoint: str, table: str) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [
        k for k in s3_keys(endpoint, f"sluice/chinook/{table}/") if k.endswith("/_manifest.json")
    ]
    return [json.loads(client.get_object(Bucket=BUCKET, Key=k)["Body"].read()) for k in keys]


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


def test_the_lake_reads_in_duckdb_and_polars_locally_and_on_s3(
    sluice: Sluice, workdir: Path, s3_endpoint: str
) -> None:
    expected = sqlite_table(CHINOOK_SQLITE, "Track")
    for index, lake in enumerate((str(workdir / "lake"), LAKE)):
        db = f"--config-db {workdir / f'config{index}.db'}"
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
        connection = duckdb.connect()
        if lake.startswith("s3://"):
            import s3fs

            files = committed_parts(s3_manifests(s3_endpoint, "Track"), f"{LAKE}/chinook/Track")
            connection.register_filesystem(
                s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint)
            )
            options = {
                "aws_endpoint_url": s3_endpoint,
                "aws_region": "us-east-1",
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
                "aws_allow_http": "true",
            }
            via_polars = pl.read_parquet(files, hive_partitioning=True, storage_options=options)
        else:
            base = Path(lake) / "chinook" / "Track"
            manifests = [
                json.loads(p.read_text()) for p in sorted(base.glob("batch=*/_manifest.json"))
            ]
            files = committed_parts(manifests, str(base))
            via_polars = pl.read_parquet(files, hive_partitioning=True)
        via_duckdb = connection.sql(
            f"SELECT * EXCLUDE (batch) FROM read_parquet({files!r}, hive_partitioning = true)"
        ).to_arrow_table()
        connection.close()
        assert same_rows(loaded, via_duckdb, ["TrackId"]), lake
        assert same_rows(expected, via_duckdb, ["TrackId"]), lake
        assert same_rows(expected, via_polars.drop("batch").to_arrow(), ["TrackId"]), lake


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
