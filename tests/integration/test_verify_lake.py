"""verify_lake catches a damaged batch before it is published: no reader and no hop 2 ever
sees it, the watermark stays, and the next run reads its rows again.

The damage is done by a test stage (tests/plugins/lake_tampering.py) placed between extract
and verify_lake, the way a faulty disk, upload or driver would leave a batch.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sluice
from tests.integration.sinks import duckdb_table, same_rows, sqlite_table

STAGES = [
    ("check_source", "Check source"),
    ("extract", "Extract"),
    ("test_tamper_lake", "Damage the batch"),
    ("verify_lake", "Verify lake"),
    ("check_sink", "Check sink"),
    ("load", "Load"),
    ("verify_sink", "Verify sink"),
]


@pytest.fixture
def tampering(sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with an `events` source table and a `tampered` pipeline; returns the source."""
    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.lake_tampering")
    source = workdir / "events.db"
    with sqlite3.connect(source) as c:
        c.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT, at DATETIME NOT NULL)")
        c.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [(i, f"v{i}", f"2025-01-01 10:00:{i:02d}") for i in range(1, 41)],
        )
    sluice("init", ok=True)
    sluice(f'source add src --type sqlite --creds \'{{"path": "{source}"}}\'', ok=True)
    sink = workdir / "wh.duckdb"
    sluice(f'destination add wh --type duckdb --creds \'{{"path": "{sink}"}}\'', ok=True)
    for order, (kind, name) in enumerate(STAGES, start=1):
        sluice(
            f"stages add --pipeline tampered --order {order} --type {kind} --name '{name}'",
            ok=True,
        )
    return source


def run_hop(sluice: Sluice, hop: str) -> dict[str, Any]:
    result = sluice(f"run events --hop {hop} --json")
    payload: dict[str, Any] = result.json()
    return payload


def failed_stage(sluice: Sluice, run_id: int) -> dict[str, Any]:
    shown_run = sluice(f"runs show {run_id} --json")
    assert shown_run.code == 1, "runs show of a failed run exits 1"
    shown = shown_run.json()
    return next(s for s in shown["stages"] if s["status"] == "failed")


def lake_batches(sluice: Sluice) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = sluice("lake ls events --json", ok=True).json()
    return listed


def watermark(sluice: Sluice) -> str | None:
    shown = sluice("table show events --json", ok=True).json()
    value: str | None = shown["source_to_dl"]["last_incremental_value"]
    return value


def add_rows(source: Path, first: int, count: int) -> None:
    with sqlite3.connect(source) as c:
        c.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [
                (i, f"v{i}", f"2025-01-01 11:{i // 60:02d}:{i % 60:02d}")
                for i in range(first, first + count)
            ],
        )


def run_both_hops_cleanly(sluice: Sluice) -> None:
    """Back on the plain template, both hops run to success."""
    sluice("table edit events --pipeline default", ok=True)
    assert run_hop(sluice, "source_to_dl")["status"] == "success"
    assert run_hop(sluice, "dl_to_sink")["status"] == "success"


def loaded_once_then_tampered(
    sluice: Sluice, source: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> str | None:
    """An incremental table loaded once (40 rows), 10 new rows, the next hop 1 run to be
    damaged by `damage`; returns the watermark before that run."""
    sluice(
        "table add events --source src --destination wh --primary-key id --load incremental "
        "--key at --sink-load incremental",
        ok=True,
    )
    assert run_hop(sluice, "source_to_dl")["status"] == "success"
    before = watermark(sluice)
    add_rows(source, 41, 10)
    sluice("table edit events --pipeline tampered", ok=True)
    monkeypatch.setenv("SLUICE_TEST_TAMPER", damage)
    return before


def test_full_batch_short_of_the_source_count_fails_and_is_never_loaded(
    tampering: Path, sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice(
        "table add events --source src --destination wh --primary-key id --pipeline tampered",
        ok=True,
    )
    monkeypatch.setenv("SLUICE_TEST_TAMPER", "drop_row")

    failed = run_hop(sluice, "source_to_dl")

    assert failed["status"] == "failed"
    stage = failed_stage(sluice, int(failed["id"]))
    assert stage["stage_type"] == "verify_lake"
    assert "holds 39 rows, the source counted 40 in the same snapshot" in stage["error_message"]
    assert lake_batches(sluice) == []  # never published: no reader and no hop 2 sees it
    hop2 = run_hop(sluice, "dl_to_sink")
    assert hop2["status"] == "failed"
    assert "holds no committed batch" in failed_stage(sluice, int(hop2["id"]))["error_message"]

    run_both_hops_cleanly(sluice)
    assert [b["rows"] for b in lake_batches(sluice)] == [40]
    assert same_rows(
        sqlite_table(tampering, "events"), duckdb_table(workdir / "wh.duckdb", "events"), ["id"]
    )


def test_a_value_lost_on_the_way_to_disk_fails_verify_lake(
    tampering: Path, sluice: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row counts and checksums agree; only the per-column counts can tell."""
    sluice(
        "table add events --source src --destination wh --primary-key id --pipeline tampered",
        ok=True,
    )
    monkeypatch.setenv("SLUICE_TEST_TAMPER", "null_value")
    failed = run_hop(sluice, "source_to_dl")
    assert failed["status"] == "failed"
    stage = failed_stage(sluice, int(failed["id"]))
    assert stage["stage_type"] == "verify_lake"
    assert (
        "column 'at' holds 39 non-NULL values in its Parquet files but 40 were written"
        in stage["error_message"]
    )
    assert lake_batches(sluice) == []


def test_a_damaged_incremental_batch_is_never_published_and_the_watermark_stays(
    tampering: Path, sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = loaded_once_then_tampered(sluice, tampering, monkeypatch, "flip_byte")
    assert before is not None and before.startswith("2025-01-01T10:00:40")

    failed = run_hop(sluice, "source_to_dl")

    assert failed["status"] == "failed"
    stage = failed_stage(sluice, int(failed["id"]))
    assert stage["stage_type"] == "verify_lake"
    assert "does not match its manifest" in stage["error_message"]
    assert watermark(sluice) == before  # the next run reads the damaged batch's rows again
    assert [b["rows"] for b in lake_batches(sluice)] == [40]

    sluice("table edit events --pipeline default", ok=True)
    assert run_hop(sluice, "source_to_dl")["status"] == "success"
    assert [b["rows"] for b in lake_batches(sluice)] == [40, 10]
    assert watermark(sluice) != before
    assert run_hop(sluice, "dl_to_sink")["status"] == "success"
    assert same_rows(
        sqlite_table(tampering, "events"), duckdb_table(workdir / "wh.duckdb", "events"), ["id"]
    )


def test_a_missing_part_leaves_the_batch_unpublished(
    tampering: Path, sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = loaded_once_then_tampered(sluice, tampering, monkeypatch, "delete_part")

    failed = run_hop(sluice, "source_to_dl")

    stage = failed_stage(sluice, int(failed["id"]))
    assert stage["stage_type"] == "verify_lake"
    assert "lake storage error" in stage["error_message"]
    assert watermark(sluice) == before
    assert [b["rows"] for b in lake_batches(sluice)] == [40]
    run_both_hops_cleanly(sluice)
    assert same_rows(
        sqlite_table(tampering, "events"), duckdb_table(workdir / "wh.duckdb", "events"), ["id"]
    )


def test_hop2_running_between_extract_and_verify_never_loads_the_unverified_batch(
    tampering: Path, sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Append without a key: a batch loaded twice would show as duplicate rows.
    sluice(
        "table add events --source src --destination wh --load incremental --key at "
        "--sink-load incremental",
        ok=True,
    )
    assert run_hop(sluice, "source_to_dl")["status"] == "success"
    assert run_hop(sluice, "dl_to_sink")["status"] == "success"
    add_rows(tampering, 41, 10)
    sluice("table edit events --pipeline tampered", ok=True)
    monkeypatch.setenv("SLUICE_TEST_TAMPER", "hop2_then_flip_byte")

    assert run_hop(sluice, "source_to_dl")["status"] == "failed"
    loaded = duckdb_table(workdir / "wh.duckdb", "events")
    assert loaded.num_rows == 40  # the hop 2 run inside the window found nothing to load

    run_both_hops_cleanly(sluice)
    loaded = duckdb_table(workdir / "wh.duckdb", "events")
    assert loaded.num_rows == 50 and len(set(loaded.column("id").to_pylist())) == 50
    assert same_rows(sqlite_table(tampering, "events"), loaded, ["id"])


def test_a_batch_removed_before_verification_fails_the_run(
    tampering: Path, sluice: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice(
        "table add events --source src --destination wh --primary-key id --pipeline tampered",
        ok=True,
    )
    monkeypatch.setenv("SLUICE_TEST_TAMPER", "delete_batch")

    failed = run_hop(sluice, "source_to_dl")

    stage = failed_stage(sluice, int(failed["id"]))
    assert stage["stage_type"] == "verify_lake"
    assert "this run extracted 40 rows but its lake batch is gone" in stage["error_message"]
    assert lake_batches(sluice) == []


def test_lake_gc_removes_the_pending_batch_of_a_run_that_is_over(
    tampering: Path, sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice(
        "table add events --source src --destination wh --primary-key id --pipeline tampered",
        ok=True,
    )
    monkeypatch.setenv("SLUICE_TEST_TAMPER", "delete_part")
    assert run_hop(sluice, "source_to_dl")["status"] == "failed"  # its batch stays pending
    leftovers = sorted((workdir / "lake").rglob("_pending_manifest.json"))
    assert len(leftovers) == 1

    planned = sluice("lake gc events --dry-run --json", ok=True).json()
    assert planned[0]["removed"] == [1] and leftovers[0].exists()
    done = sluice("lake gc events --json", ok=True).json()

    assert done[0]["removed"] == [1]
    assert not leftovers[0].parent.exists()
