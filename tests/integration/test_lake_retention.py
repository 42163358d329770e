"""`sluice lake ls`, `sluice lake gc` and the automatic retention pass after loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Sluice
from tests.integration.api_support import Api, api_fixture, chinook_fixture
from tests.integration.sinks import duckdb_table

__all__ = ["api_fixture", "chinook_fixture"]  # fixtures used here


def batches(sluice: Sluice, table: str = "Genre") -> list[tuple[int, str]]:
    return [(b["batch"], b["load_type"]) for b in sluice(f"lake ls {table} --json", ok=True).json()]


def test_full_snapshots_beyond_the_newest_three_are_removed_after_loads(
    configured: Sluice, workdir: Path
) -> None:
    for _ in range(5):
        configured("run Genre", ok=True)
    batches = configured("lake ls Genre --json", ok=True).json()
    assert [b["batch"] for b in batches] == [3, 4, 5]
    assert all(b["rows"] == 25 and b["bytes"] > 0 for b in batches)
    assert {b["run_id"] for b in batches} == {3, 4, 5}
    assert not (workdir / "lake/chinook/Genre/batch=00000001").exists()
    assert "Genre" in configured("lake ls Genre", ok=True).out


def test_gc_dry_run_then_removal(configured: Sluice, workdir: Path) -> None:
    configured("table edit Genre --sink-load incremental", ok=True)
    configured("run Genre", ok=True)
    for _ in range(4):
        configured("run Genre --hop source_to_dl", ok=True)  # never loaded by hop 2
    assert configured("lake gc Genre --dry-run --json", ok=True).json()[0]["removed"] == [1, 2]
    assert len(configured("lake ls Genre --json", ok=True).json()) == 5  # dry run kept all
    assert configured("lake gc --json", ok=True).json() == [
        {"table": "Genre", "keep_full": 3, "removed": [1, 2], "dry_run": False}
    ]
    assert [b["batch"] for b in configured("lake ls Genre --json", ok=True).json()] == [3, 4, 5]
    configured("run Genre --hop dl_to_sink", ok=True)


def test_a_table_keeping_one_full_snapshot_keeps_only_it_and_what_hop_2_still_needs(
    configured: Sluice, workdir: Path
) -> None:
    edited = configured("table edit Genre --lake-keep-full 1 --json", ok=True).json()
    assert edited["lake_keep_full"] == 1
    for _ in range(3):
        configured("run Genre", ok=True)
    assert batches(configured) == [(3, "full")]  # the automatic pass after each load
    assert duckdb_table(workdir / "wh.duckdb", "Genre").num_rows == 25

    # An incremental batch hop 2 has not loaded, then a newer full snapshot: the snapshot
    # supersedes batch 3, but batch 4 must wait for hop 2.
    configured("table edit Genre --load incremental --key GenreId", ok=True)
    configured("run Genre --hop source_to_dl", ok=True)
    configured("table edit Genre --load full", ok=True)
    configured("run Genre --hop source_to_dl", ok=True)
    assert batches(configured) == [(3, "full"), (4, "incremental"), (5, "full")]
    dry = configured("lake gc --dry-run", ok=True).out
    assert "Genre (keeps 1 full): would remove 1 batch(es) 3" in dry
    assert configured("lake gc --json", ok=True).json() == [
        {"table": "Genre", "keep_full": 1, "removed": [3], "dry_run": False}
    ]
    assert batches(configured) == [(4, "incremental"), (5, "full")]

    configured("run Genre --hop dl_to_sink", ok=True)  # loads 5; then 4 may go
    assert batches(configured) == [(5, "full")]
    assert duckdb_table(workdir / "wh.duckdb", "Genre").num_rows == 25

    reset = configured("table edit Genre --lake-keep-full '' --json", ok=True).json()
    assert reset["lake_keep_full"] is None
    assert configured("lake gc --json", ok=True).json()[0]["keep_full"] == 3


def test_one_full_snapshot_set_through_the_api(api: Api, chinook: Sluice) -> None:
    created = api.call(
        "POST",
        "/api/tables",
        json={
            "source_tablename": "MediaType",
            "source": "chinook",
            "destination": "wh",
            "primary_key": ["MediaTypeId"],
            "lake_keep_full": 1,
        },
    )
    assert created.status_code == 201 and created.json()["lake_keep_full"] == 1
    edited = api.call("PATCH", "/api/tables/Genre", json={"lake_keep_full": 1})
    assert edited.status_code == 200 and edited.json()["lake_keep_full"] == 1
    assert api.call("GET", "/api/tables/Genre").json()["lake_keep_full"] == 1
    for _ in range(3):
        chinook("run Genre", ok=True)
        chinook("run MediaType", ok=True)
    assert batches(chinook) == [(3, "full")]
    assert batches(chinook, "MediaType") == [(3, "full")]
    untouched = api.call("PATCH", "/api/tables/Genre", json={"every": 30})
    assert untouched.json()["lake_keep_full"] == 1
    reset = api.call("PATCH", "/api/tables/Genre", json={"lake_keep_full": ""})
    assert reset.status_code == 200 and reset.json()["lake_keep_full"] is None


@pytest.mark.parametrize(
    ("cli_value", "api_value", "message"),
    [
        (
            "0",
            0,
            "full snapshots to keep 0 (--lake-keep-full) must be at least 1: the newest full "
            "snapshot is always kept; give '' for the default",
        ),
        (
            "=-2",
            -2,
            "full snapshots to keep -2 (--lake-keep-full) must be at least 1: the newest full "
            "snapshot is always kept; give '' for the default",
        ),
        (
            "two",
            "two",
            "full snapshots to keep 'two' (--lake-keep-full) is not a whole number: give a "
            "number N >= 1, or '' for the default",
        ),
        (
            "2.5",
            "2.5",
            "full snapshots to keep '2.5' (--lake-keep-full) is not a whole number: give a "
            "number N >= 1, or '' for the default",
        ),
    ],
)
def test_a_bad_number_of_snapshots_is_refused_alike_by_the_cli_and_the_api(
    api: Api, chinook: Sluice, cli_value: str, api_value: object, message: str
) -> None:
    separator = "" if cli_value.startswith("=") else " "
    for command in (
        f"table edit Genre --lake-keep-full{separator}{cli_value}",
        f"table add Track --source chinook --destination wh --lake-keep-full{separator}{cli_value}",
    ):
        refused = chinook(command)
        assert (refused.code, refused.err.strip()) == (3, f"error: {message}")
    for method, path, body in (
        ("PATCH", "/api/tables/Genre", {"lake_keep_full": api_value}),
        (
            "POST",
            "/api/tables",
            {
                "source_tablename": "Track",
                "source": "chinook",
                "destination": "wh",
                "lake_keep_full": api_value,
            },
        ),
    ):
        response = api.call(method, path, json=body)
        assert (response.status_code, response.json()) == (422, {"detail": message})
    assert chinook("table show Genre --json", ok=True).json()["lake_keep_full"] is None
    assert [t["source_tablename"] for t in api.call("GET", "/api/tables").json()] == ["Genre"]
