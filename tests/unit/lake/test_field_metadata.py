"""Field metadata (a source's declared types) travels through the lake and never counts as drift."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.connectors.postgres.types import declared_metadata, enum_of, sink_column
from sluice.lake.manifest import Manifest
from sluice.lake.reader import LakeTable
from sluice.lake.store import LakeStore
from sluice.lake.writer import BatchWriter
from sluice.stages.incremental import check_compatible, unify

TITLE_10 = declared_metadata("character varying(10)", None)
TITLE_40 = declared_metadata("character varying(40)", None)
STATE = declared_metadata("state", ("state", ["new", "it's open", "done"]))


def schema(title: dict[bytes, bytes] | None, state: dict[bytes, bytes] | None) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field("title", pa.string(), metadata=title),
            pa.field("state", pa.string(), metadata=state),
        ]
    )


def test_declared_types_round_trip_through_parts_manifest_and_reads(tmp_path: Path) -> None:
    table = LakeTable(LakeStore(str(tmp_path / "lake")), "src", "t")
    declared = schema(TITLE_10, STATE)
    writer = BatchWriter(table, run_id=1, schema=declared)
    writer.write(
        pa.RecordBatch.from_pydict(
            {"id": [1, 2], "title": ["a", None], "state": ["it's open", None]}, schema=declared
        )
    )
    template = Manifest("src", "t", 0, 0, "full", "", 0, declared, ())
    manifest = writer.commit(template)

    [stored] = table.committed()
    assert stored.schema.equals(declared, check_metadata=True)
    part = table.part_paths(stored)[0]
    assert pq.read_schema(part).equals(declared, check_metadata=True)
    [read] = list(table.read(manifest))
    assert read.schema.equals(declared, check_metadata=True)
    assert enum_of(read.schema.field("state")) == ("state", ("new", "it's open", "done"))
    assert sink_column(read.schema.field("title")).declared == "character varying(10)"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (schema(None, None), schema(TITLE_10, STATE)),  # metadata appears (an upgrade)
        (schema(TITLE_10, STATE), schema(TITLE_40, None)),  # changes, disappears
    ],
)
def test_metadata_alone_is_never_schema_drift(old: pa.Schema, new: pa.Schema) -> None:
    check_compatible(old, new)
    check_compatible(new, old)
    assert old.equals(new)  # what verify_lake compares: types, not metadata


def test_unify_takes_the_newest_batchs_declared_types() -> None:
    unified = unify([schema(TITLE_10, STATE), schema(TITLE_40, STATE)])
    assert sink_column(unified.field("title")).declared == "character varying(40)"
    assert unified.field("state").metadata == STATE
    assert unify([schema(TITLE_10, STATE), schema(TITLE_40, None)]).field("state").metadata is None


def test_a_batch_records_the_declared_types_its_rows_were_read_with(tmp_path: Path) -> None:
    # The check before the read saw three labels; the read's snapshot has a fourth.
    table = LakeTable(LakeStore(str(tmp_path / "lake")), "src", "t")
    checked = schema(TITLE_10, STATE)
    grown = declared_metadata("state", ("state", ["new", "it's open", "done", "late"]))
    read_with = schema(TITLE_10, grown)
    writer = BatchWriter(table, run_id=1, schema=checked)
    rows = {"id": [1, 2], "title": ["a", "b"], "state": ["late", "new"]}
    writer.write(pa.RecordBatch.from_pydict(rows, schema=read_with))
    writer.write(pa.RecordBatch.from_pydict(rows, schema=read_with))
    writer.commit(Manifest("src", "t", 0, 0, "full", "", 0, checked, ()))

    [stored] = table.committed()
    assert stored.schema.equals(read_with, check_metadata=True)
    assert enum_of(stored.schema.field("state")) == ("state", ("new", "it's open", "done", "late"))
    assert pq.read_schema(table.part_paths(stored)[0]).equals(read_with, check_metadata=True)
