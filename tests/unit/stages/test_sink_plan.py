"""What hop 2 loads, for every combination of the two hops' load types (DESIGN.md's table)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sluice.core.models import LoadMode, LoadType
from sluice.lake.manifest import Manifest
from sluice.stages.sink_plan import plan_load


def batch(sequence: int, load_type: str) -> Manifest:
    return Manifest(
        source_name="s",
        table="t",
        sequence=sequence,
        run_id=sequence,
        load_type=load_type,
        created_at="",
        row_count=1,
        schema=pa.schema([]),
        parts=(),
    )


F, I = "full", "incremental"  # noqa: E741 - reads as the table in DESIGN.md
CASES = [
    # lake batches, held by sink, sink load, key -> loaded, mode, dedupe
    ([(1, F), (2, F)], set(), LoadType.FULL, ("id",), [2], LoadMode.REPLACE, False),
    ([(1, F), (2, F)], {2}, LoadType.FULL, ("id",), [], LoadMode.REPLACE, False),
    ([(1, F), (2, F), (3, F)], {1}, LoadType.INCREMENTAL, ("id",), [3], LoadMode.MERGE, True),
    ([(1, F), (2, F)], {1}, LoadType.INCREMENTAL, (), [2], LoadMode.APPEND, False),
    ([(1, I), (2, I), (3, I)], set(), LoadType.FULL, ("id",), [1, 2, 3], LoadMode.REPLACE, True),
    ([(1, I), (2, F), (3, I)], {1}, LoadType.FULL, ("id",), [2, 3], LoadMode.REPLACE, True),
    ([(1, I), (2, I), (3, I)], {1, 2}, LoadType.INCREMENTAL, ("id",), [3], LoadMode.MERGE, True),
    ([(1, I), (2, I)], {1, 2}, LoadType.INCREMENTAL, (), [], LoadMode.APPEND, False),
    ([(1, F), (2, I), (3, I)], {1}, LoadType.INCREMENTAL, (), [2, 3], LoadMode.APPEND, False),
]


@pytest.mark.parametrize(("lake", "held", "sink", "key", "loaded", "mode", "dedupe"), CASES)
def test_plan(lake, held, sink, key, loaded, mode, dedupe) -> None:  # type: ignore[no-untyped-def]
    plan = plan_load([batch(s, t) for s, t in lake], held, sink, key)
    assert list(plan.batch_ids) == loaded
    assert plan.mode is mode
    assert plan.dedupe is dedupe
