"""Connectors come through the `sluice.connectors` entry points, sluice's own included.

A connector shipped in another installed package (here a package made in the test: a
module and its dist-info with an entry point, on PYTHONPATH as pip would leave it in
site-packages) is listed and runs end to end without any change to sluice. A connector whose
driver is not installed fails in one line naming the pip command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.processes import PROJECT

PLUGIN = '''
"""A connector of another package: reads JSON-lines files."""
from __future__ import annotations
from collections.abc import Generator
from typing import ClassVar
import pyarrow as pa
import pyarrow.json as pj
from sluice.connectors.base import Creds, ReadRequest, SourceRead, TableInfo
from sluice.connectors.spec import ConnectorSpec
from sluice.core.models import TableRef

CONNECTOR = ConnectorSpec(
    type_name="jsonl",
    creds="jsonl_connector:JsonlCreds",
    example_creds='{"folder": "data"}',
    source="jsonl_connector:JsonlSource",
)


class JsonlCreds(Creds):
    folder: str


class JsonlSource:
    type_name: ClassVar[str] = "jsonl"

    def __init__(self, creds: JsonlCreds) -> None:
        self.folder = creds.folder

    def _table(self, table: TableRef) -> pa.Table:
        return pj.read_json(f"{self.folder}/{table.name}.jsonl")

    def ping(self) -> str:
        return f"JSON lines in {self.folder}"

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        data = self._table(table)
        return TableInfo(table, data.schema, data.num_rows if count_rows else None)

    def read(self, request: ReadRequest) -> SourceRead:
        return SourceRead(self._read(request))

    def _read(self, request: ReadRequest) -> Generator[pa.RecordBatch, None, int]:
        data = self._table(request.table)
        yield from data.to_batches()
        return data.num_rows

    def close(self) -> None:
        pass
'''


def _run(
    workdir: Path, *args: str, prelude: str = "pass", path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m sluice ARGS`, after `prelude` (e.g. hiding a driver)."""
    code = f"{prelude}; import runpy; runpy.run_module('sluice', run_name='__main__')"
    paths = [str(PROJECT / "src"), *([str(path)] if path else [])]
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_connector_from_another_package_runs_without_changing_sluice(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "jsonl_connector").mkdir(parents=True)
    (site / "jsonl_connector" / "__init__.py").write_text(PLUGIN)
    info = site / "jsonl_connector-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jsonl-connector\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[sluice.connectors]\njsonl = jsonl_connector:CONNECTOR\n"
    )
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": 1, "name": "ü"}, {"id": 2, "name": None}]
    (data / "people.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    work = tmp_path / "work"
    work.mkdir()

    def sluice(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(work, *args, prelude="import sys", path=site)

    assert sluice("init").returncode == 0
    listed = sluice("source", "add", "--help")
    assert "jsonl" in listed.stdout.replace("\n", " "), listed.stdout
    added = sluice(
        "source", "add", "files", "--type", "jsonl", "--creds", json.dumps({"folder": str(data)})
    )
    assert added.returncode == 0, added.stderr
    warehouse = tmp_path / "wh.duckdb"
    creds = json.dumps({"path": str(warehouse)})
    assert sluice("destination", "add", "wh", "--type", "duckdb", "--creds", creds).returncode == 0
    added = sluice("table", "add", "people", "--source", "files", "--destination", "wh")
    assert added.returncode == 0, added.stderr
    ran = sluice("run", "people")
    assert ran.returncode == 0, ran.stderr
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("SELECT id, name FROM people ORDER BY id").fetchall() == [
            (1, "ü"),
            (2, None),
        ]


def test_a_connector_whose_driver_is_missing_names_the_pip_command(tmp_path: Path) -> None:
    """As if `sluice` were installed without its [mysql] extra: the driver cannot be imported."""
    assert _run(tmp_path, "init").returncode == 0
    creds = json.dumps({"host": "127.0.0.1", "user": "root", "database": "mysql"})
    added = _run(
        tmp_path,
        "source", "add", "shop", "--type", "mysql", "--creds", creds,
        prelude="import sys; sys.modules['pymysql'] = None; sys.modules['connectorx'] = None",
    )  # fmt: skip
    assert added.returncode != 0
    [line] = added.stderr.strip().splitlines()
    assert "the mysql connector needs connectorx, which is not installed" in line
    assert "pip install 'sluice[mysql]'" in line
