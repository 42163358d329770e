"""Retention keeps the newest full snapshots and every batch hop 2 still needs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sluice.lake.manifest import Manifest
from sluice.lake.retention import plan_retention


def batch(sequence: int, kind: str) -> Manifest:
    return Manifest(
        source_name="s",
        table="t",
        sequence=sequence,
        run_id=sequence,
        load_type=kind,
        created_at="",
        row_count=1,
        schema=pa.schema([]),
        parts=(),
    )


F, I = "full", "incremental"  # noqa: E741 - short names keep the table readable


@pytest.mark.parametrize(
    ("lake", "keep", "loaded", "removed"),
    [
        ([F, F, F, F, F], 3, 5, [1, 2]),
        ([F, F, F, F, F], 3, None, [1, 2]),  # superseded snapshots go even if never loaded
        ([F, F], 3, 2, []),
        ([I, I, I], 1, 3, []),  # no full snapshot: nothing supersedes anything
        ([F, I, I, F, I], 1, 5, [1, 2, 3]),
        ([F, I, I, F, I], 1, 2, [1, 2]),  # batch 3 was not loaded yet: kept
        ([F, I, I, F, I], 1, None, [1]),
        ([F, F, I, F], 2, 4, [1]),
    ],
)
def test_plan(lake: list[str], keep: int, loaded: int | None, removed: list[int]) -> None:
    plan = plan_retention([batch(i + 1, k) for i, k in enumerate(lake)], keep, loaded)
    assert list(plan.remove) == removed
    assert sorted(plan.keep + plan.remove) == list(range(1, len(lake) + 1))
