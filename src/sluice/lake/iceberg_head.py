"""A lake table's current Iceberg metadata, read without pyiceberg.

The lake's index is its Iceberg table's snapshot summaries (lake/iceberg.py). Reading them
needs no more than the catalog's pointer (one row of `iceberg_tables`) and the metadata file
it names, a JSON document of the Iceberg spec: importing pyiceberg for that would cost a
stage about 0.4 s of Python imports. So every stage reads its index here, and only a stage
that commits (hop 1's publication, compaction, expiry) imports pyiceberg, which then builds
its table from the same bytes (LakeCatalog.table_of) without reading them again.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa

from sluice.lake.iceberg import BATCH, batch_ref
from sluice.lake.iceberg_catalog import CATALOG_NAME
from sluice.lake.manifest import BatchRef
from sluice.lake.store import LakeStore

# pyiceberg's own lookup (SqlCatalog.load_table on its schema v1): views are not tables.
_POINTER_SQL = sa.text(
    "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = :catalog "
    "AND table_namespace = :namespace AND table_name = :name "
    "AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)"
)


@dataclass(frozen=True)
class Head:
    location: str  # the metadata file's URI, as the catalog row names it
    raw: bytes  # its JSON
    body: dict[str, Any]


def read_head(engine: sa.Engine, store: LakeStore, namespace: str, name: str) -> Head | None:
    """The table's current metadata; None where there is no table, or where its metadata
    file is gone (pyiceberg's load then drops the row, and the table is made again)."""
    with engine.connect() as connection:
        row = connection.execute(
            _POINTER_SQL, {"catalog": CATALOG_NAME, "namespace": namespace, "name": name}
        ).first()
    if row is None or not row[0]:
        return None
    location = str(row[0])
    try:  # the filesystem itself: a missing file is an answer here, not a storage error
        with store.fs.open_input_stream(_fs_path(location)) as stream:
            raw = stream.read()
    except FileNotFoundError:
        return None
    if location.endswith(".gz.metadata.json"):
        raw = gzip.decompress(raw)
    return Head(location=location, raw=raw, body=json.loads(raw))


def index_of(head: Head | None) -> tuple[dict[int, BatchRef | None], int | None]:
    """As LakeCatalog.index: the batches the snapshots record, oldest first, each with its
    ref (None where the snapshot predates the index fields), and the current snapshot's."""
    if head is None:
        return {}, None
    current = head.body.get("current-snapshot-id")
    refs: dict[int, BatchRef | None] = {}
    newest = None
    for snapshot in head.body.get("snapshots") or []:
        summary = snapshot.get("summary") or {}
        if summary.get(BATCH) is None:
            continue
        sequence = int(str(summary[BATCH]))
        refs[sequence] = batch_ref(sequence, summary)
        if snapshot.get("snapshot-id") == current:
            newest = sequence
    return dict(sorted(refs.items())), newest


def _fs_path(uri: str) -> str:
    """A metadata URI as the lake's pyarrow filesystem names the file."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return parsed.path
    return f"{parsed.netloc}{parsed.path}"
