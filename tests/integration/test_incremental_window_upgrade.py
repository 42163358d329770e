"""A lake whose look-back window was written before row identities were vectorised.

Such windows hold hex blake2b digests of each row's Python repr. The window is rewritten here
exactly as the earlier code wrote it (its hashing copied below, on purpose independent of
sluice's own), then the current code runs incremental hop 1 over it: rows the old window
holds are not extracted again, a late row is still picked up, and the window the run leaves
is in the current scheme.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.stages.row_identity import SCHEME_KEY, WINDOW_SCHEME
from tests.conftest import Sluice
from tests.integration.test_incremental_cli import (
    T1,
    T2,
    T3,
    Shop,
    run,
    setup,
    shop,
    sink_rows,
    stage_rows,
)

__all__ = ["setup", "shop"]  # fixtures used here


def old_row_hash(row: dict[str, Any]) -> str:
    """The row digest windows held until the scheme was recorded (verbatim)."""
    return hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=16).hexdigest()


def windows(workdir: Path) -> list[Path]:
    return sorted(workdir.rglob("_window.parquet"))


def rewrite_the_old_way(window_path: Path, floor: Any) -> None:
    """Replace a batch's window by the one the earlier code stored for the same rows: the
    (key, hex digest) pairs of the batch's rows at or after `floor`, sorted, no scheme."""
    batch_dir = window_path.parent
    parts = [p for p in sorted(batch_dir.glob("*.parquet")) if p.name != "_window.parquet"]
    rows = pa.concat_tables([pq.read_table(p) for p in parts]).to_pylist()
    key_type = pq.read_table(window_path).schema.field("key").type
    pairs = sorted({(r["updated_at"], old_row_hash(r)) for r in rows if r["updated_at"] >= floor})
    old = pa.table(
        {
            "key": pa.array([k for k, _ in pairs], type=key_type),
            "hash": pa.array([h for _, h in pairs], type=pa.string()),
        }
    )
    pq.write_table(old, window_path)
    manifest_path = batch_dir / "_manifest.json"
    body = json.loads(manifest_path.read_text())
    data = window_path.read_bytes()
    body["window"].update(
        rows=old.num_rows, bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    manifest_path.write_text(json.dumps(body, indent=2, sort_keys=True))


def versions(workdir: Path) -> list[tuple[int, str]]:
    sink = sink_rows(workdir).sort_by([("id", "ascending"), ("updated_at", "ascending")])
    return list(zip(sink.column("id").to_pylist(), sink.column("v").to_pylist(), strict=True))


@pytest.mark.parametrize(
    ("lookback", "floor"),
    [(None, "2025-01-01 11:00:00"), ("2h", "2025-01-01 09:00:00")],
    ids=["ties-at-the-watermark", "look-back-window"],
)
def test_a_window_written_the_old_way_holds_its_rows_once(
    setup: Sluice, shop: Shop, workdir: Path, lookback: str | None, floor: str
) -> None:
    lookback_option = f" --lookback {lookback}" if lookback else ""
    # Append-only sink (no primary key): a row extracted twice would land twice.
    setup(
        "table add events --source shop --destination wh --load incremental --key updated_at "
        f"--sink-load incremental{lookback_option}",
        ok=True,
    )
    shop.insert((1, "a", T1), (2, "b", T2), (3, "c", T2))
    run(setup)
    (window_path,) = windows(workdir)
    rewrite_the_old_way(window_path, datetime.fromisoformat(floor))
    assert pq.read_table(window_path).schema.metadata is None

    # Nothing new: the rows the old window holds are read again and dropped.
    assert stage_rows(setup, run(setup))["extract"] == 0

    # A row at the watermark (and, with a look-back, one committed late below it).
    shop.insert((4, "d", T2))
    if lookback:
        shop.insert((5, "late", "2025-01-01 10:30:00"))
    caught = run(setup)
    assert stage_rows(setup, caught)["extract"] == (2 if lookback else 1)

    newest = windows(workdir)[-1]
    assert newest != window_path
    stored = pq.read_table(newest)
    assert stored.schema.metadata == {SCHEME_KEY: WINDOW_SCHEME}
    expected_in_window = 5 if lookback else 3  # every row at or after the next floor
    assert stored.num_rows == expected_in_window

    # The converted window holds what the old one held: nothing is extracted again.
    assert stage_rows(setup, run(setup))["extract"] == 0
    shop.update(2, "b2", T3)
    assert stage_rows(setup, run(setup))["extract"] == 1
    expected = [(1, "a"), (2, "b"), (2, "b2"), (3, "c"), (4, "d")]
    if lookback:
        expected.insert(5, (5, "late"))
    assert versions(workdir) == expected
