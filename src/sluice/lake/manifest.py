"""The manifest: the one file that makes a batch exist. Written last, atomically."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import pyarrow as pa

MANIFEST_NAME = "_manifest.json"
# A batch written but not yet verified: the same manifest under another name, which no
# reader looks for. verify_lake publishes it as MANIFEST_NAME once the parts check out.
PENDING_NAME = "_pending_manifest.json"
WINDOW_NAME = "_window.parquet"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PartInfo:
    path: str  # relative to the batch directory
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class BatchRef:
    """What the lake's index (its Iceberg snapshots) says of a committed batch: enough to
    plan with. The manifest (LakeTable.manifest) is read only for the batches a stage works
    on, so finding them costs the same however long the table's history."""

    sequence: int
    load_type: str
    reload: bool
    run_id: int
    row_count: int
    batch_uid: str | None
    bytes: int = 0
    directory: str | None = None  # a compacted batch's directory (see Manifest.directory)
    covers: tuple[tuple[int, str | None], ...] = ()  # see Manifest.covers

    def identities(self) -> dict[int, str | None]:
        """The batches (sequence -> UUID) whose rows this one holds: itself, or for a
        compacted batch each batch it replaced; a sink records these when it loads it."""
        return dict(self.covers) if self.covers else {self.sequence: self.batch_uid}


@dataclass(frozen=True)
class Manifest:
    source_name: str
    table: str
    sequence: int
    run_id: int
    load_type: str
    created_at: str
    row_count: int
    schema: pa.Schema
    parts: tuple[PartInfo, ...]
    incremental_key: str | None = None
    key_min: str | None = None
    key_max: str | None = None
    watermark_before: str | None = None
    watermark_after: str | None = None
    # (key, hash) of the rows held inside the next run's look-back window, in WINDOW_NAME: the
    # next incremental run reads that window again and drops the rows already held, so a row at
    # the boundary (or committed late inside the window) is never lost or doubled.
    window: PartInfo | None = None
    source_row_count: int | None = None
    # Unique per batch ever written (UUID v7): a sink records it beside the sequence, so a
    # lake replaced, restored or removed by hand (sequences starting again) is recognised
    # instead of taken for the batches the sink already holds. None in older lakes.
    batch_uid: str | None = None
    # Non-NULL values per column, counted from the rows as they were written: verify_lake
    # checks the Parquet statistics against it, verify_sink the sink's own counts.
    column_values: dict[str, int] | None = None
    # 'infinity' and '-infinity' values per date or timestamp column holding any
    # (sluice.core.infinity): hop 2 tells the sink which columns need its infinity path.
    column_infinities: dict[str, int] | None = None
    # [min, max] per numeric, date or timestamp column (sluice.core.bounds), compared by
    # verify_sink with the sink's own. None in older lakes.
    column_bounds: dict[str, list[Any]] | None = None
    # Written by a reload run: a fresh full read that hop 2 swaps in whole when it first
    # meets it, whatever either hop's load type.
    reload: bool = False
    # A compacted batch (stages/compaction.py): the (sequence, UUID) of each incremental
    # batch whose rows it holds, in order; it takes the newest one's sequence and lives in a
    # directory of its own (layout.compacted_dir_name), named here.
    covers: tuple[tuple[int, str | None], ...] = ()
    directory: str | None = None

    @property
    def ref(self) -> BatchRef:
        return BatchRef(
            sequence=self.sequence,
            load_type=self.load_type,
            reload=self.reload,
            run_id=self.run_id,
            row_count=self.row_count,
            batch_uid=self.batch_uid,
            bytes=sum(p.bytes for p in self.parts),
            directory=self.directory,
            covers=self.covers,
        )

    def summary(self) -> dict[str, Any]:
        """What `lake ls` and the API show of a batch (no paths: the API does not show them)."""
        return {
            "batch": self.sequence,
            "load_type": self.load_type,
            "reload": self.reload,
            "rows": self.row_count,
            "bytes": sum(p.bytes for p in self.parts),
            "files": len(self.parts),
            "run_id": self.run_id,
            "created_at": self.created_at,
            "key": self.incremental_key,
            "key_min": self.key_min,
            "key_max": self.key_max,
            "batch_uid": self.batch_uid,
            "compacted": [sequence for sequence, _ in self.covers],
        }

    def to_json(self) -> bytes:
        body: dict[str, Any] = asdict(self)
        body["format"] = FORMAT_VERSION
        body["schema"] = [
            {"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in self.schema
        ]
        body["arrow_schema"] = base64.b64encode(self.schema.serialize().to_pybytes()).decode()
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        body = json.loads(data)
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(body["arrow_schema"])))
        return cls(
            source_name=body["source_name"],
            table=body["table"],
            sequence=int(body["sequence"]),
            run_id=int(body["run_id"]),
            load_type=body["load_type"],
            created_at=body["created_at"],
            row_count=int(body["row_count"]),
            schema=schema,
            parts=tuple(PartInfo(**part) for part in body["parts"]),
            window=PartInfo(**body["window"]) if body.get("window") else None,
            incremental_key=body.get("incremental_key"),
            key_min=body.get("key_min"),
            key_max=body.get("key_max"),
            watermark_before=body.get("watermark_before"),
            watermark_after=body.get("watermark_after"),
            source_row_count=body.get("source_row_count"),
            batch_uid=body.get("batch_uid"),
            column_values=body.get("column_values"),
            column_infinities=body.get("column_infinities"),
            column_bounds=body.get("column_bounds"),
            reload=bool(body.get("reload", False)),
            covers=tuple((int(s), u) for s, u in body.get("covers") or ()),
            directory=body.get("directory"),
        )


B = TypeVar("B", Manifest, BatchRef)


def current_batches(committed: list[B]) -> list[B]:
    """The batches that make the table now: the newest full (or reload) one and those after
    it (all of them where there is none), from committed batches (or their refs) in order."""
    start = max(
        (i for i, m in enumerate(committed) if m.load_type == "full" or m.reload), default=0
    )
    return committed[start:]
