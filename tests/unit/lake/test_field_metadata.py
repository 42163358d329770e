"""Field metadata (a source's declared types) travels through the lake and never counts as drift."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.connectors.postgres.types import (
    PG_TYPE,
    PG_TYPMOD,
    declared_metadata,
    declared_type_of,
    enum_of,
)
from sluice.connectors.postgres.writing import sink_column
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


def test_unify_takes_the_widest_declared_types_of_its_batches() -> None:
    unified = unify([schema(TITLE_10, STATE), schema(TITLE_40, STATE)])
    assert sink_column(unified.field("title")).declared == "character varying(40)"
    assert unified.field("state").metadata == STATE
    # The newest batch no longer read the column from the enum: its text may hold anything.
    no_enum = unify([schema(TITLE_10, STATE), schema(TITLE_40, None)]).field("state")
    assert enum_of(no_enum) is None and sink_column(no_enum).declared == "text"


def column(declared: str | None, labels: list[str] | None = None, name: str = "state") -> pa.Schema:
    kind = pa.list_(pa.string()) if declared and declared.endswith("[]") else pa.string()
    enum = (name, labels) if labels is not None else None
    metadata = declared_metadata(declared, enum) if declared else None
    return pa.schema([pa.field("c", kind, metadata=metadata)])


# (older batch's declared type, newer batch's) -> what the load declares
SIZED_RULES = [
    ("character varying(50)", "character varying(10)", "character varying(50)"),
    ("character varying(10)", "character varying(50)", "character varying(50)"),
    ("character(3)", "character(2)", "character(3)"),
    # char(n) values arrive padded to n: varchar keeps them, char would pad varchar values.
    ("character(8)", "character varying(5)", "character varying(8)"),
    ("character varying(5)", "character(8)", "character varying(8)"),
    ("character varying(10)", "character varying", "character varying"),
    ("character varying", "character(4)", "character varying"),
    ("character varying(10)", "text", "text"),
    ("text", "character(4)", "text"),
    (None, "character varying(10)", "text"),  # a batch of an earlier sluice: loaded as text
    ("character varying(4)", None, "text"),
    ("character varying(4)[]", "character varying(2)[]", "character varying(4)[]"),
    ("character varying(4)[]", "text[]", "text[]"),
]


@pytest.mark.parametrize(("older", "newer", "declared"), SIZED_RULES)
def test_a_load_declares_the_widest_sized_type_of_its_batches(
    older: str | None, newer: str | None, declared: str
) -> None:
    field = unify([column(older), column(newer)]).field("c")
    assert sink_column(field).declared == declared
    assert enum_of(field) is None


def test_other_declared_types_follow_the_newest_batch() -> None:
    # Not text: the Arrow types carry the width (int32 -> int64), check_compatible judges it.
    older = pa.schema([pa.field("c", pa.int32(), metadata=declared_metadata("integer", None))])
    newer = pa.schema([pa.field("c", pa.int64(), metadata=declared_metadata("bigint", None))])
    field = unify([older, newer]).field("c")
    assert declared_type_of(field) == "bigint" and sink_column(field).declared == "bigint"


# (older batch's enum labels, newer batch's) -> the enum's labels, or None for text
ENUM_RULES = [
    (["a", "b", "c"], ["a", "c"], ["a", "b", "c"]),  # a label removed in the source
    (["a", "c"], ["a", "b", "c"], ["a", "b", "c"]),  # a label added
    (["a", "b"], ["a", "x"], None),  # renamed: neither holds the other's values
    (["a", "b"], ["b", "a"], None),  # reordered: the sink cannot reorder labels
    (["a", "b"], ["a", "b"], ["a", "b"]),
]


@pytest.mark.parametrize(("older", "newer", "labels"), ENUM_RULES)
def test_an_enum_keeps_its_type_only_when_one_batchs_labels_extend_the_others(
    older: list[str], newer: list[str], labels: list[str] | None
) -> None:
    field = unify([column("state", older), column("state", newer)]).field("c")
    if labels is None:
        assert enum_of(field) is None and sink_column(field).declared == "text"
    else:
        assert enum_of(field) == ("state", tuple(labels))


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        (column("state", ["a"]), column("mood", ["a"], name="mood")),  # another enum
        (column("state", ["a"]), column("character varying(10)")),
        (column("character varying(10)"), column("state", ["a"])),
        (column("state", ["a"]), column(None)),
    ],
)
def test_an_enum_meeting_any_other_type_is_text(older: pa.Schema, newer: pa.Schema) -> None:
    field = unify([older, newer]).field("c")
    assert enum_of(field) is None and sink_column(field).declared == "text"


def test_the_widest_type_holds_over_many_batches_and_text_stays_text() -> None:
    sizes = [column(f"character varying({n})") for n in (50, 10, 20)]
    assert sink_column(unify(sizes).field("c")).declared == "character varying(50)"
    renamed = [column("state", ["a", "b"]), column("state", ["a", "x"]), column("state", ["a"])]
    field = unify(renamed).field("c")
    assert enum_of(field) is None and sink_column(field).declared == "text"


def test_numeric_read_as_text_becomes_unconstrained_when_its_size_changed() -> None:
    def numeric(typmod: int) -> pa.Schema:
        metadata = {PG_TYPE: b"numeric", PG_TYPMOD: str(typmod).encode()}
        return pa.schema([pa.field("n", pa.string(), metadata=metadata)])

    wide, narrow = ((60 << 16 | 20) + 4), ((50 << 16 | 20) + 4)
    assert sink_column(unify([numeric(wide)]).field("n")).declared == "numeric(60,20)"
    assert sink_column(unify([numeric(wide), numeric(narrow)]).field("n")).declared == "numeric"


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


def test_a_declared_type_is_neutral_and_an_earlier_lakes_key_still_reads() -> None:
    """The lake records (declared type, system); lakes written before kept `sluice.pg_type`
    or `sluice.mysql_type`, which read the same; a sink's connector reads its own system's."""
    from sluice.connectors.declared import DECLARED, SYSTEM, declared_by
    from sluice.connectors.mysql.types import declared_type_of as mysql_declared
    from sluice.connectors.registry import widest_metadata

    assert TITLE_10[DECLARED] == b"character varying(10)" and TITLE_10[SYSTEM] == b"postgres"
    legacy = pa.field("t", pa.string(), metadata={b"sluice.pg_type": b"character varying(40)"})
    assert declared_type_of(legacy) == "character varying(40)"
    mysql = pa.field("t", pa.string(), metadata={b"sluice.mysql_type": b"varchar(40)"})
    assert declared_type_of(mysql) is None  # another system's: not PostgreSQL's to declare
    assert mysql_declared(mysql) == "varchar(40)"
    assert declared_by(pa.field("t", pa.string()), "postgres") is None
    # An earlier batch's key and a newer batch's neutral one widen as two neutral ones do.
    merged = widest_metadata(legacy.metadata, TITLE_10)
    assert merged is not None and merged[DECLARED] == b"character varying(40)"
    assert b"sluice.pg_type" not in merged
