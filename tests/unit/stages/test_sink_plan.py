"""What hop 2 loads, for every combination of the two hops' load types (DESIGN.md's table)."""

from __future__ import annotations

import dataclasses

import pytest

from sluice.core.models import LoadMode, LoadType
from sluice.lake.manifest import BatchRef
from sluice.stages.sink_plan import plan_load


def batch(sequence: int, load_type: str) -> BatchRef:
    return BatchRef(
        sequence=sequence,
        load_type=load_type,
        reload=False,
        run_id=sequence,
        row_count=1,
        batch_uid=f"uid-{sequence}",
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


def compacted(first: int, last: int) -> BatchRef:
    """A compacted batch (stages/compaction.py) of the incremental batches first..last."""
    return dataclasses.replace(
        batch(last, I), covers=tuple((s, f"uid-{s}") for s in range(first, last + 1))
    )


def test_a_compacted_batch_stands_for_the_batches_it_replaced() -> None:
    lake = [batch(1, F), compacted(2, 5), batch(6, I)]
    # Held: nothing new to load, in either hop 2 load type.
    assert not plan_load(lake, {1, 2, 3, 4, 5, 6}, LoadType.INCREMENTAL, ("id",)).batches
    assert not plan_load(lake, {1, 2, 3, 4, 5, 6}, LoadType.FULL, ("id",)).batches
    # Loaded afresh: the sink records every batch it holds the rows of, and merges keys.
    plan = plan_load(lake, set(), LoadType.FULL, ("id",))
    assert list(plan.batch_ids) == [1, 2, 3, 4, 5, 6]
    assert list(plan.batch_uids) == [f"uid-{s}" for s in range(1, 7)]
    assert plan.dedupe
    # Alone, it still repeats keys (one per batch that carried a row): merged all the same.
    assert plan_load([compacted(1, 4)], set(), LoadType.FULL, ("id",)).dedupe
    assert plan_load(
        [compacted(1, 4), batch(5, I)], {1, 2, 3, 4}, LoadType.INCREMENTAL, ("id",)
    ).batch_ids == (5,)
