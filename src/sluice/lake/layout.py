"""Where things live in the lake: <lake>/<source>/<table>/batch=<sequence>/part-<n>.parquet."""

from __future__ import annotations

import re

from sluice.lake.store import LakeStore

BATCH_DIR = re.compile(r"^batch=(\d+)$")
# A compacted batch's: beside the directories of the batches it replaces until they go, and
# never taken for a batch a run is writing (BATCH_DIR does not match it).
COMPACTED_DIR = re.compile(r"^batch=(\d+)-c([0-9a-f]+)$")


def table_dir(store: LakeStore, source_name: str, table: str) -> str:
    return store.path(source_name, table)


def batch_dir_name(sequence: int) -> str:
    # Zero-padded so a plain listing sorts in commit order; Hive readers still see an integer.
    return f"batch={sequence:08d}"


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def compacted_dir_name(sequence: int, token: str) -> str:
    return f"{batch_dir_name(sequence)}-c{token}"
