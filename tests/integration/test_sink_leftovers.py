"""The embedded sinks drop what a killed load of the same table left, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sluice.connectors.base import LoadRequest
from sluice.connectors.duckdb.config import DuckDBCreds
from sluice.connectors.duckdb.sink import DuckDBSink
from sluice.connectors.sqlite.config import SQLiteCreds
from sluice.connectors.sqlite.sink import SQLiteSink
from sluice.core.models import LoadMode, TableRef


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_leftovers_of_the_same_table_are_dropped(tmp_path: Path, kind: str) -> None:
    path = str(tmp_path / f"wh.{kind}")
    sink = (
        SQLiteSink(SQLiteCreds(path=path))
        if kind == "sqlite"
        else DuckDBSink(DuckDBCreds(path=path))
    )
    table = TableRef("orders")
    mine = [
        sink.sibling(table, "__sluice_stage_", 3).name,
        sink.sibling(table, "__sluice_new_", 4).name,
    ]
    other = sink.sibling(TableRef("orders_2"), "__sluice_stage_", 3).name
    try:
        for name in [*mine, other]:
            sink.execute(f'CREATE TABLE "{name}" (id BIGINT)')
        rows = pa.table({"id": pa.array([1], pa.int64())})
        request = LoadRequest(
            table=table,
            mode=LoadMode.MERGE,
            schema=rows.schema,
            lake_table="lake/orders",
            batch_ids=(1,),
            run_id=9,
        )
        sink.load(request, iter(rows.to_batches()))
        assert sink.sibling_names(None) == [other]
        assert sink.row_count_of(table) == 1
    finally:
        sink.close()
