"""BigQuery's stand-in: bqemulator (PyPI; the BigQuery REST API over DuckDB), run from its own
virtualenv (.venv-bqemu, made by `make test`) through tests/bigquery_emulator_server.py, which
makes it more faithful where the sink would trip. The sink runs its production code path
through the real `google-cloud-bigquery` client with `api_endpoint` pointing here and no
credentials (`anonymous`). What the emulator cannot show is listed in
docs/connectors/bigquery.md.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV = PROJECT_ROOT / ".venv-bqemu"
PROJECT = "test-project"
_lock = threading.Lock()
_endpoint: str | None = None


def endpoint() -> str:
    """The URL of the emulator this process started (on first use)."""
    global _endpoint
    with _lock:
        if _endpoint is None:
            _endpoint = _start()
        return _endpoint


def _start() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        raise RuntimeError(
            f"BigQuery's stand-in is not installed ({python} is missing): run `make test`, "
            "which makes .venv-bqemu"
        )
    scratch = Path(tempfile.mkdtemp(prefix="sluice-bqemu-"))
    log = (scratch / "emulator.log").open("w")
    process = subprocess.Popen(
        [str(python), str(PROJECT_ROOT / "tests" / "bigquery_emulator_server.py"),
         "--rest-port", "0", "--grpc-port", "0", "--ephemeral", "--project", PROJECT,
         "--log-format", "json", "--log-level", "info"],
        env={**os.environ, "HOME": str(VENV / "home"), "TMPDIR": str(scratch),
             "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
             "BQEMU_GCS_LOCAL_ROOT": str(scratch / "gcs")},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def stop() -> None:
        process.kill()
        process.wait()
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in (scratch / "emulator.log").read_text().splitlines():
            if '"rest.listen"' in line:
                port = json.loads(line)["port"]
                return f"http://127.0.0.1:{port}"
        if process.poll() is not None:
            break
        time.sleep(0.1)
    text = (scratch / "emulator.log").read_text()[-2000:]
    raise RuntimeError(f"the BigQuery emulator did not start: {text}")


def client() -> Any:
    from google.api_core.client_options import ClientOptions
    from google.auth import credentials
    from google.cloud import bigquery

    anonymous: Any = credentials.AnonymousCredentials
    return bigquery.Client(
        project=PROJECT,
        credentials=anonymous(),
        client_options=ClientOptions(api_endpoint=endpoint()),
    )


def fresh_dataset() -> dict[str, Any]:
    """Creds of a new, empty dataset on the stand-in."""
    dataset = f"sluice_{uuid.uuid4().hex[:10]}"
    bq = client()
    try:
        bq.create_dataset(f"{PROJECT}.{dataset}")
    finally:
        bq.close()
    return {"project": PROJECT, "dataset": dataset, "api_endpoint": endpoint(), "anonymous": True}


def rows(creds: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    """`sql` run in the creds' dataset, its rows as tuples."""
    from google.cloud import bigquery

    bq = client()
    try:
        config = bigquery.QueryJobConfig(default_dataset=f"{PROJECT}.{creds['dataset']}")
        job = bq.query(sql, job_config=config, retry=None, job_retry=None)
        return [tuple(row.values()) for row in job.result(retry=None)]
    finally:
        bq.close()
