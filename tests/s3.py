"""A real S3-protocol server on loopback for tests: moto's standalone server (PyPI `moto`).

It speaks the S3 REST API (multipart uploads included) to the same pyarrow S3 client that
production uses; only the endpoint differs (AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI

BUCKET = "lake"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty bucket `lake` on a fresh moto server; AWS_* variables point at it."""
    # The one installed beside this interpreter (the project's), not whatever PATH finds first.
    beside = Path(sys.executable).parent / "moto_server"
    executable = str(beside) if beside.exists() else shutil.which("moto_server") or "moto_server"
    port = _free_port()
    try:
        server = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        message = f"moto_server is not installed ({exc}): `make test` installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def s3_keys(endpoint: str, prefix: str = "") -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
