"""Retention keeps the newest full snapshots and every batch hop 2 still needs."""

from __future__ import annotations

import pytest

from sluice.lake.manifest import BatchRef
from sluice.lake.retention import plan_retention


def batch(sequence: int, kind: str) -> BatchRef:
    return BatchRef(
        sequence=sequence,
        load_type=kind,
        reload=False,
        run_id=sequence,
        row_count=1,
        batch_uid=f"uid-{sequence}",
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
        ([I, I, F], 3, 3, [1, 2]),  # fewer fulls than N: loaded incrementals before them go
        ([I, I, F], 3, 1, [1]),
        ([I, I, F], 1, None, []),
        ([F, I, F], 2, 2, []),  # N fulls exactly: both kept, and what lies between
    ],
)
def test_plan(lake: list[str], keep: int, loaded: int | None, removed: list[int]) -> None:
    plan = plan_retention([batch(i + 1, k) for i, k in enumerate(lake)], keep, loaded)
    assert list(plan.remove) == removed
    assert sorted(plan.keep + plan.remove) == list(range(1, len(lake) + 1))


# Five fulls around incrementals; hop 2 loaded up to batch 8 of 10.
LAKE = [F, I, F, I, I, F, F, I, F, I]


@pytest.mark.parametrize(
    ("keep", "kept"),
    [
        (1, [9, 10]),  # only the newest full snapshot and what follows it
        (2, [7, 8, 9, 10]),
        (5, list(range(1, 11))),  # five fulls, five kept: nothing goes
        (6, list(range(1, 11))),
    ],
)
def test_the_number_of_full_snapshots_kept_is_the_tables_own(keep: int, kept: list[int]) -> None:
    plan = plan_retention([batch(i + 1, k) for i, k in enumerate(LAKE)], keep, 8)
    assert list(plan.keep) == kept
    assert sum(LAKE[s - 1] == F for s in plan.keep) == min(keep, LAKE.count(F))


def test_with_one_full_kept_unloaded_incrementals_before_it_stay() -> None:
    plan = plan_retention([batch(i + 1, k) for i, k in enumerate(LAKE)], 1, 4)
    assert list(plan.remove) == [1, 2, 3, 4, 6, 7]  # superseded fulls, incrementals loaded
    assert list(plan.keep) == [5, 8, 9, 10]  # 5 and 8 wait for hop 2
