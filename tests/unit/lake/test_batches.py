"""Lake batches: invisible until the manifest is written, checksummed, bounded in memory."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.lake.manifest import MANIFEST_NAME, Manifest
from sluice.lake.reader import LakeTable
from sluice.lake.store import LakeStore
from sluice.lake.writer import BatchWriter

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def batch(start: int, count: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "id": list(range(start, start + count)),
            "name": [f"n{i}" for i in range(start, start + count)],
        },
        schema=SCHEMA,
    )


def template() -> Manifest:
    return Manifest(
        source_name="src",
        table="t",
        sequence=0,
        run_id=0,
        load_type="full",
        created_at="",
        row_count=0,
        schema=SCHEMA,
        parts=(),
    )


@pytest.fixture
def table(tmp_path: Path) -> LakeTable:
    return LakeTable(LakeStore(str(tmp_path / "lake")), "src", "t")


def test_a_batch_is_invisible_until_its_manifest_is_written(table: LakeTable) -> None:
    writer = BatchWriter(table, run_id=7, schema=SCHEMA, row_group_rows=10)
    writer.write(batch(0, 25))
    assert table.committed() == []
    assert not any(Path(writer.dir).glob(MANIFEST_NAME))
    manifest = writer.commit(template())
    assert [m.sequence for m in table.committed()] == [1]
    assert manifest.row_count == 25 and manifest.run_id == 7
    rows = pa.Table.from_batches(list(table.read(manifest)))
    assert rows.column("id").to_pylist() == list(range(25))


def test_the_manifest_records_parts_with_checksums(table: LakeTable, tmp_path: Path) -> None:
    writer = BatchWriter(table, run_id=1, schema=SCHEMA, row_group_rows=10, part_rows=20)
    for start in range(0, 50, 5):
        writer.write(batch(start, 5))
    manifest = writer.commit(template())
    assert [p.rows for p in manifest.parts] == [20, 20, 10]
    for part in manifest.parts:
        path = posixpath.join(table.batch_path(manifest), part.path)
        digest, size = table.store.sha256_of(path)
        assert (digest, size) == (part.sha256, part.bytes)
    body = json.loads(Path(table.batch_path(manifest), MANIFEST_NAME).read_text())
    assert body["row_count"] == 50 and body["format"] == 1
    assert body["schema"] == [
        {"name": "id", "type": "int64", "nullable": True},
        {"name": "name", "type": "string", "nullable": True},
    ]


def test_rows_are_buffered_into_large_row_groups(table: LakeTable) -> None:
    writer = BatchWriter(table, run_id=1, schema=SCHEMA, row_group_rows=1000)
    for start in range(0, 3000, 100):
        writer.write(batch(start, 100))
    manifest = writer.commit(template())
    path = table.part_paths(manifest)[0]
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [1000] * 3


# The "killed" writer's file stays open, as it would in a process killed mid-write.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_killed_writer_leaves_nothing_visible_and_is_cleaned_up(table: LakeTable) -> None:
    first = BatchWriter(table, run_id=1, schema=SCHEMA)
    first.write(batch(0, 5))
    first.commit(template())
    crashed = BatchWriter(table, run_id=2, schema=SCHEMA, row_group_rows=1)
    crashed.write(batch(5, 5))  # parts written, no manifest: as if killed here
    assert [m.sequence for m in table.committed()] == [1]
    assert sorted(table.batch_dirs()) == [1, 2]
    next_writer = BatchWriter(table, run_id=3, schema=SCHEMA)
    assert sorted(table.batch_dirs()) == [1, 3]
    assert next_writer.sequence == 3
    crashed.abort()  # closes the file a killed process would have left open; nothing to remove
    assert sorted(table.batch_dirs()) == [1, 3]


def test_an_empty_full_snapshot_still_has_a_schema(table: LakeTable) -> None:
    manifest = BatchWriter(table, run_id=1, schema=SCHEMA).commit(template())
    assert manifest.row_count == 0
    assert pq.ParquetFile(table.part_paths(manifest)[0]).schema_arrow == SCHEMA


def test_abort_removes_the_batch(table: LakeTable) -> None:
    writer = BatchWriter(table, run_id=1, schema=SCHEMA, row_group_rows=1)
    writer.write(batch(0, 3))
    writer.abort()
    assert table.batch_dirs() == {}


def test_manifest_round_trip() -> None:
    manifest = template()
    assert Manifest.from_json(manifest.to_json()) == manifest
