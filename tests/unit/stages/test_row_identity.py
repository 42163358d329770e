"""Row identities for the look-back window: exact, canonical, stable, and upgrade-safe."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pyarrow as pa

from sluice.stages.incremental import HeldRows, IncrementalFilter, KeyTracker, legacy_row_hashes
from sluice.stages.row_identity import DIGEST, SCHEME_KEY, WINDOW_SCHEME, row_digests
from tests.conftest import PROJECT

# Per type: values that must all be told apart, NULL among them.
EDGES: dict[str, tuple[pa.DataType, list[object]]] = {
    "i8": (pa.int8(), [None, 0, -1, 1, -128, 127]),
    "i64": (pa.int64(), [None, 0, -1, 2**63 - 1, -(2**63)]),
    "u32": (pa.uint32(), [None, 0, 4_000_000_000]),
    "f16": (pa.float16(), [None, 0.0, 1.5]),
    "f64": (pa.float64(), [None, 0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300]),
    "bool": (pa.bool_(), [None, False, True]),
    "dec": (
        pa.decimal128(12, 2),
        [None, Decimal("0.00"), Decimal("-0.01"), Decimal("9999999999.99")],
    ),
    "dec256": (pa.decimal256(40, 5), [None, Decimal("1.00000"), Decimal("-1.00000")]),
    "d32": (pa.date32(), [None, date(1, 1, 1), date(2026, 12, 4)]),
    "d64": (pa.date64(), [None, date(1970, 1, 1), date(2026, 12, 4)]),
    "t64": (pa.time64("us"), [None, time(0), time(23, 59, 59, 999999)]),
    "ts": (pa.timestamp("us"), [None, datetime(1, 1, 1), datetime(2026, 12, 4, 1, 2, 3)]),
    "tstz": (pa.timestamp("us", tz="UTC"), [None, datetime(2026, 1, 1, tzinfo=UTC)]),
    "dur": (pa.duration("us"), [None, timedelta(0), timedelta(days=-1)]),
    "s": (pa.string(), [None, "", "a", "ab", "a\x00b", "ü€😀"]),
    "ls": (pa.large_string(), [None, "", "x" * 100_000]),
    "b": (pa.binary(), [None, b"", b"\x00", b"\x00\x00"]),
    "fsb": (pa.binary(3), [None, b"\x00\x00\x00", b"abc"]),
    "list": (pa.list_(pa.int32()), [None, [], [None], [1, 2], [12]]),
    "struct": (
        pa.struct([("a", pa.int32()), ("b", pa.string())]),
        [None, {"a": None, "b": None}, {"a": 1, "b": ""}],
    ),
}


def digests_of(column: pa.Array) -> list[bytes]:
    values: list[bytes] = row_digests(pa.record_batch({"c": column})).to_pylist()
    return values


def test_every_value_of_every_type_has_its_own_identity() -> None:
    for name, (kind, values) in EDGES.items():
        found = digests_of(pa.array(values, type=kind))
        assert len(set(found)) == len(values), name
        assert all(len(d) == 16 for d in found)


def test_dictionary_columns_are_identified_by_their_values() -> None:
    plain = pa.array(["a", None, "b", "a"])
    assert digests_of(plain.dictionary_encode()) == digests_of(plain)


def test_null_empty_and_adjacent_values_never_run_together() -> None:
    pairs = pa.record_batch(
        {"a": pa.array(["ab", "a", None, ""]), "b": pa.array(["", "b", "", None])}
    )
    assert len(set(row_digests(pairs).to_pylist())) == 4


def test_identity_is_by_content_not_position_column_order_or_chunking() -> None:
    batch = pa.record_batch(
        {
            "id": pa.array([1, None, 3]),
            "note": pa.array(["x", "y", None]),
            "d": pa.array([Decimal("1.5"), None, Decimal("2.5")]),
        }
    )
    reordered = batch.select(["note", "d", "id"])
    assert row_digests(batch).to_pylist() == row_digests(reordered).to_pylist()
    sliced = row_digests(batch.slice(1, 2)).to_pylist()
    assert sliced == row_digests(batch).to_pylist()[1:]
    assert row_digests(batch.take(pa.array([2, 0]))).to_pylist() == [
        row_digests(batch).to_pylist()[i] for i in (2, 0)
    ]


def test_another_shape_never_matches_but_an_added_null_column_leaves_no_trace() -> None:
    one = pa.record_batch({"a": pa.array([1], pa.int64())})
    added = pa.record_batch({"a": pa.array([1], pa.int64()), "b": pa.array([None], pa.int64())})
    filled = pa.record_batch({"a": pa.array([1], pa.int64()), "b": pa.array([1], pa.int64())})
    renamed = pa.record_batch({"z": pa.array([1], pa.int64())})
    retyped = pa.record_batch({"a": pa.array([1], pa.int32())})
    text = pa.record_batch({"a": pa.array([b"\x01" + b"\x00" * 7], pa.binary())})
    digests = [row_digests(b).to_pylist()[0] for b in (one, added, filled, renamed, retyped, text)]
    assert digests[0] == digests[1]  # a column added later, NULL in this row
    assert len(set(digests)) == 5


def test_a_window_of_the_previous_scheme_is_read_once_and_rewritten() -> None:
    from sluice.stages.row_identity import SCHEME_V2

    held_rows = rows((1, T2), (2, T2))
    digests = row_digests(held_rows, SCHEME_V2)
    assert digests.to_pylist() != row_digests(held_rows).to_pylist()
    v2 = pa.table(
        {"key": held_rows.column("ts"), "hash": digests},
        schema=pa.schema(
            [("key", pa.timestamp("us")), ("hash", DIGEST)], metadata={SCHEME_KEY: SCHEME_V2}
        ),
    )
    held = HeldRows(v2)
    assert held.scheme == SCHEME_V2 and held.current() is None
    filter_ = IncrementalFilter("ts", T2, None, held)
    kept = filter_.apply(rows((1, T2), (2, T2), (3, T2)))
    assert kept.column("id").to_pylist() == [3]  # nothing doubled, the late row not lost
    tracker = KeyTracker("ts")
    tracker.update(kept)
    window = tracker.window(T2, held, pa.timestamp("us"), filter_.carried)
    assert window.schema.metadata[SCHEME_KEY] == WINDOW_SCHEME
    again = IncrementalFilter("ts", T2, None, HeldRows(window)).apply(
        rows((1, T2), (2, T2), (3, T2), (4, T2))
    )
    assert again.column("id").to_pylist() == [4]


def test_identities_are_the_same_in_another_process() -> None:
    script = (
        "import json, pyarrow as pa\n"
        "from decimal import Decimal\n"
        "from sluice.stages.row_identity import row_digests\n"
        "b = pa.record_batch({'id': pa.array([1, 2]), 's': pa.array(['x', None]),"
        " 'd': pa.array([Decimal('1.25'), None], pa.decimal128(12, 2))})\n"
        "print(json.dumps([d.hex() for d in row_digests(b).to_pylist()]))\n"
    )
    here = pa.record_batch(
        {
            "id": pa.array([1, 2]),
            "s": pa.array(["x", None]),
            "d": pa.array([Decimal("1.25"), None], pa.decimal128(12, 2)),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
        env={"PYTHONPATH": str(PROJECT / "src"), "PYTHONHASHSEED": "12345"},
    )
    assert json.loads(done.stdout) == [d.hex() for d in row_digests(here).to_pylist()]


SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us"))])
T1, T2 = datetime(2025, 1, 1, 10), datetime(2025, 1, 1, 11)


def rows(*pairs: tuple[int, datetime]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([{"id": i, "ts": t} for i, t in pairs], schema=SCHEMA)


def test_a_window_written_before_the_upgrade_is_read_once_and_rewritten_in_the_new_scheme() -> None:
    held_rows = rows((1, T2), (2, T2))
    legacy = pa.table(
        {"key": held_rows.column("ts"), "hash": pa.array(legacy_row_hashes(held_rows), pa.string())}
    )
    held = HeldRows(legacy)
    assert held.legacy
    filter_ = IncrementalFilter("ts", T2, None, held)
    reread = rows((1, T2), (2, T2), (3, T2))  # 3 committed late at the watermark
    kept = filter_.apply(reread)
    assert kept.column("id").to_pylist() == [3]  # nothing doubled, the late row not lost
    tracker = KeyTracker("ts")
    tracker.update(kept)
    window = tracker.window(T2, held, pa.timestamp("us"), filter_.carried)
    assert window.schema.field("hash").type == DIGEST
    assert window.schema.metadata[SCHEME_KEY] == WINDOW_SCHEME
    assert set(window.column("hash").to_pylist()) == set(row_digests(reread).to_pylist())
    # The next run, in the new scheme, drops all three and keeps a fourth.
    again = IncrementalFilter("ts", T2, None, HeldRows(window)).apply(
        rows((1, T2), (2, T2), (3, T2), (4, T2))
    )
    assert again.column("id").to_pylist() == [4]


def test_many_rows_at_one_key_value_are_matched_exactly() -> None:
    n = 50_000
    batch = pa.record_batch(
        {"id": pa.array(range(n), pa.int64()), "ts": pa.array([T1] * n, pa.timestamp("us"))}
    )
    tracker = KeyTracker("ts")
    tracker.update(batch)
    window = tracker.window(None, None, pa.timestamp("us"))
    assert window.num_rows == n
    more = pa.record_batch(
        {
            "id": pa.array(range(n + 1), pa.int64()),
            "ts": pa.array([T1] * (n + 1), pa.timestamp("us")),
        }
    )
    kept = IncrementalFilter("ts", T1, None, HeldRows(window)).apply(more)
    assert kept.column("id").to_pylist() == [n]
