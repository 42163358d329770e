"""Lake storage failures: what a retry can fix is retried, the rest fails once and says why.

The failures are real ones: pyarrow's S3 client against a closed loopback port, and against
moto's S3 server (tests/s3.py) asked for a bucket that does not exist.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

from sluice.core.errors import TerminalError, TransientError
from sluice.lake.errors import storage_error
from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.s3 import s3_endpoint

__all__ = ["s3_endpoint"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe closes


def raised(call: Any) -> OSError:
    with pytest.raises(OSError) as caught:
        call()
    return caught.value


def test_an_unreachable_store_is_worth_a_retry() -> None:
    fs = pafs.S3FileSystem(
        endpoint_override=f"127.0.0.1:{closed_port()}",
        scheme="http",
        access_key="k",
        secret_key="s",
        region="us-east-1",
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    )
    error = storage_error(raised(lambda: fs.get_file_info("lake/x/_manifest.json")))
    assert isinstance(error, TransientError)
    assert "lake storage unreachable" in str(error) and "NETWORK_CONNECTION" in str(error)


def test_a_missing_bucket_is_not_worth_a_retry(s3_endpoint: str) -> None:
    fs = pafs.S3FileSystem(
        endpoint_override=s3_endpoint.removeprefix("http://"),
        scheme="http",
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )
    for call in (
        lambda: fs.create_dir("no-such-bucket/x", recursive=True),
        lambda: fs.open_output_stream("no-such-bucket/x/part.parquet").close(),
    ):
        error = storage_error(raised(call))
        assert isinstance(error, TerminalError) and not isinstance(error, TransientError)
        assert "the bucket does not exist: create it or fix the lake location" in str(error)


def test_local_disk_errors_say_what_to_do() -> None:
    full = storage_error(OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(full, TerminalError) and "free space and run again" in str(full)
    refused = storage_error(PermissionError(errno.EACCES, "Permission denied"))
    assert isinstance(refused, TerminalError) and "write access" in str(refused)


def test_a_run_retries_an_unreachable_lake_then_fails_with_the_reason(
    sluice: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("SLUICE_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SLUICE_RETRY_BASE", "0.01")
    sluice("init --lake s3://lake/sluice", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    sluice("table add Genre --source chinook --destination wh", ok=True)

    result = sluice("run Genre --hop source_to_dl --json")

    assert result.code != 0
    shown = sluice(f"runs show {result.json()['id']} --json").json()
    failed = next(s for s in shown["stages"] if s["status"] == "failed")
    assert failed["stage_type"] == "extract"
    assert "lake storage unreachable" in failed["error_message"]
    assert "gave up after 2 attempts" in failed["error_message"]


def test_gcs_and_azure_locations_open_through_pyarrow_and_others_fail_in_one_line() -> None:
    from sluice.core.errors import ConfigError
    from sluice.lake.store import LakeStore

    gcs = LakeStore("gs://bucket/prefix")
    azure = LakeStore("abfs://container@account.dfs.core.windows.net/prefix")
    assert (type(gcs.fs).__name__, gcs.root) == ("GcsFileSystem", "bucket/prefix")
    assert (type(azure.fs).__name__, azure.root) == ("AzureFileSystem", "container/prefix")
    with pytest.raises(ConfigError) as caught:
        LakeStore("hdfs://namenode/lake")  # no JVM here: pyarrow lists every path it tried
    message = str(caught.value)
    assert "\n" not in message and "use a local path or a URI such as s3://" in message


@pytest.mark.parametrize("sink", ["sqlite", "duckdb"])
def test_a_lake_error_during_hop2_reaches_the_run_as_itself(
    sluice: Sluice, workdir: Path, sink: str
) -> None:
    # The embedded sinks' drivers pull the lake's batches themselves; an error met there
    # must not come back as the driver's own, flattened to text with a traceback.
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(f'destination add wh --type {sink} --creds \'{{"path": "wh.{sink}"}}\'', ok=True)
    sluice("table add Track --source chinook --destination wh", ok=True)
    sluice("run Track --hop source_to_dl", ok=True)
    [part] = (workdir / "lake").rglob("part-*.parquet")
    part.unlink()

    result = sluice("run Track --hop dl_to_sink --json")

    shown = sluice(f"runs show {result.json()['id']} --json").json()
    failed = next(s for s in shown["stages"] if s["status"] == "failed")
    assert failed["stage_type"] == "load"
    assert failed["error_message"].startswith("load: lake storage error:")
    assert str(part.name) in failed["error_message"]
    assert "Traceback" not in failed["error_message"]


def test_with_lake_options_an_s3_uri_is_bucket_and_prefix_only() -> None:
    from sluice.core.errors import ConfigError
    from sluice.lake.store import LakeOptions, LakeStore

    options = LakeOptions.from_dict({"endpoint_url": "http://127.0.0.1:1", "region": "eu-west-1"})
    assert LakeStore("s3://bucket/lake/", options).root == "bucket/lake"
    for uri, says in (
        ("s3://bucket/lake?region=eu-west-1", "carries settings after '?'"),
        ("s3:///lake", "names no bucket"),
    ):
        with pytest.raises(ConfigError, match=says):
            LakeStore(uri, options)


def test_lake_commands_report_an_unreachable_store_in_one_line(
    sluice: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    sluice("init --lake s3://lake/sluice", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    sluice("table add Genre --source chinook --destination wh", ok=True)

    for command in ("lake ls Genre", "lake gc --dry-run"):
        result = sluice(command)
        assert result.code == 1, command
        assert result.err.startswith("error: lake storage unreachable:"), result.err
        assert "Traceback" not in result.err and result.err.count("\n") == 1
