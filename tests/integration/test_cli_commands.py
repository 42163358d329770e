"""The CLI's shapes, exit codes, JSON output and redaction, on the embedded defaults."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from sluice.config.migrate import head_revision
from tests.conftest import CHINOOK_SQLITE, Sluice


def test_init_creates_the_default_config_database_and_lake(sluice: Sluice, workdir: Path) -> None:
    result = sluice("init --json", ok=True).json()
    assert result["revision"] == head_revision() and result["previous_revision"] is None
    assert result["lake"] == str(workdir / "lake")
    assert (workdir / "databases/config_db/data/config.db").is_file()
    again = sluice("init --json", ok=True).json()
    assert again["previous_revision"] == head_revision()
    assert sluice("init --lake elsewhere --json", ok=True).json()["lake"] == str(
        workdir / "elsewhere"
    )


def test_config_db_option_and_environment(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice(f"--config-db {workdir / 'a.db'} init", ok=True)
    assert (workdir / "a.db").is_file()
    monkeypatch.setenv("SLUICE_CONFIG_DB", f"sqlite:///{workdir / 'b.db'}")
    sluice("init", ok=True)
    assert (workdir / "b.db").is_file()
    assert not (workdir / "databases").exists()


def test_commands_before_init_say_so(sluice: Sluice, workdir: Path) -> None:
    for command in ("table list", "status", "runs"):
        result = sluice(command)
        assert result.code == 3, command
        assert "does not exist: run `sluice init` first" in result.err
    assert not (workdir / "databases").exists()  # nothing made on the way


def test_lake_location_can_be_overridden_by_the_environment(
    configured: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_LAKE", str(workdir / "other-lake"))
    configured("run Genre --hop source_to_dl", ok=True)
    assert list((workdir / "other-lake/chinook/Genre").glob("batch=*/_manifest.json"))
    assert not (workdir / "lake").exists()


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ("table add X --source nope --destination wh", 4, "no source named 'nope'"),
        (
            "table add X --source chinook --destination wh --load sometimes",
            3,
            "load type 'sometimes'",
        ),
        ("table add Genre --source chinook --destination wh", 5, "configured already"),
        ("table show Nope", 4, "no table 'Nope' is configured"),
        ("runs show 999", 4, "no run with id 999"),
        ("run Nope", 4, "no table 'Nope'"),
        ("source remove chinook", 5, "used by table(s) Genre"),
        ("source add x --type sqlite --creds '{bad'", 3, "not valid JSON"),
        ("source add x --type sqlite --creds @missing.json", 3, "cannot read creds file"),
        ("run Genre --hop sideways", 2, "sideways"),
    ],
)
def test_failures_exit_non_zero_with_a_one_line_reason(
    configured: Sluice, command: str, code: int, message: str
) -> None:
    result = configured(command)
    assert result.code == code, result.err
    assert message in result.err
    if code != 2:
        assert result.err.strip().startswith("error:")
        assert "Traceback" not in result.err


def test_creds_can_come_from_a_file(configured: Sluice, workdir: Path) -> None:
    (workdir / "creds.json").write_text(f'{{"path": "{CHINOOK_SQLITE}"}}')
    configured("source add fromfile --type sqlite --creds @creds.json", ok=True)
    tested = configured("source test fromfile --json", ok=True).json()
    assert tested["ok"] is True and "11 table(s)" in tested["detail"]


def test_source_test_reports_a_missing_file(configured: Sluice) -> None:
    add = 'source add gone --type sqlite --creds \'{"path": "/nonexistent/x.db"}\''
    refused = configured(add)
    assert refused.code == 3 and "/nonexistent/x.db does not exist" in refused.err
    assert "--no-check" in refused.err
    configured(add, "--no-check", ok=True)
    result = configured("source test gone")
    assert result.code == 1
    assert "does not exist" in result.err


def test_listings_have_json(configured: Sluice) -> None:
    sources = configured("source list --json", ok=True).json()
    assert [s["name"] for s in sources] == ["chinook"]
    assert sources[0]["id"][14] == "7"  # a UUID v7
    assert configured("destination show wh --json", ok=True).json()["type"] == "duckdb"
    tables = configured("table list --json", ok=True).json()
    assert tables[0]["primary_key"] == ["GenreId"]
    assert tables[0]["source_to_dl"]["schedule_minutes"] == 60
    stages = configured("stages list --pipeline default --json", ok=True).json()
    assert [s["stage_type"] for s in stages] == [
        "check_source",
        "extract",
        "verify_lake",
        "check_sink",
        "load",
        "verify_sink",
    ]
    assert {s["driver_container"] for s in stages} == {"driver_source_to_dl", "driver_dl_to_sink"}


def test_human_listings_render(configured: Sluice) -> None:
    configured("run Genre", ok=True)
    for command in (
        "source list",
        "destination list",
        "table list",
        "stages list",
        "runs",
        "runs show 1",
    ):
        result = configured(command, ok=True)
        assert result.out.strip()
    assert "Genre" in configured("table list", ok=True).out
    shown = configured("runs show 1", ok=True).out
    assert "verify_sink" in shown and "part-00000.parquet" in shown


def test_runs_filters(configured: Sluice) -> None:
    configured("run Genre", ok=True)
    configured("table add Nope --source chinook --destination wh --no-check", ok=True)
    configured("run Nope")
    assert [r["id"] for r in configured("runs --json", ok=True).json()] == [2, 1]
    assert [r["id"] for r in configured("runs --status failed --json", ok=True).json()] == [2]
    assert [r["id"] for r in configured("runs --table Genre --json", ok=True).json()] == [1]
    assert len(configured("runs --limit 1 --json", ok=True).json()) == 1


def test_pause_resume_edit_remove(configured: Sluice, workdir: Path) -> None:
    configured("table pause Genre --hop dl_to_sink", ok=True)
    shown = configured("table show Genre --json", ok=True).json()
    assert shown["source_to_dl"]["is_active"] is True
    assert shown["dl_to_sink"]["is_active"] is False
    configured("table resume Genre", ok=True)
    assert configured("table show Genre --json", ok=True).json()["dl_to_sink"]["is_active"] is True
    edited = configured("table edit Genre --every 15 --sink-table genres --json", ok=True).json()
    assert edited["source_to_dl"]["schedule_minutes"] == 15 and edited["sink_tablename"] == "genres"
    configured("run Genre", ok=True)
    configured("table remove Genre", ok=True)
    assert configured("table list --json", ok=True).json() == []
    assert configured("runs --json", ok=True).json() == []


def test_custom_stage_templates(configured: Sluice) -> None:
    configured(
        "stages add --pipeline lean --order 1 --type extract --name Extract "
        "--driver-container driver_source_to_dl",
        ok=True,
    )
    configured("stages add --pipeline lean --order 2 --type load --name Load", ok=True)
    configured("table edit Genre --pipeline lean", ok=True)
    result = configured("run Genre --json", ok=True).json()
    assert [s["stage_type"] for s in result["stages"]] == ["extract", "load"]
    assert result["pipeline_name"] == "lean"


def test_run_shows_progress_and_the_run_id(configured: Sluice) -> None:
    result = configured("run Genre", ok=True)
    assert "run 1 started: Genre (all)" in result.out
    assert "run 1 success" in result.out


def test_the_config_database_rows_follow_the_contract(configured: Sluice, workdir: Path) -> None:
    configured("run Genre", ok=True)
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        run = c.execute(
            "SELECT status, current_stage, total_stages, triggered_by, started_at, completed_at, "
            "error_message FROM pipeline_runs_master"
        ).fetchone()
        logs = c.execute(
            "SELECT stage_order, status, rows_processed, time_taken, started_at FROM "
            "pipeline_run_stage_logs ORDER BY stage_order"
        ).fetchall()
        hop = c.execute(
            "SELECT source_to_dl_last_loader_run_status, dl_to_sink_last_loader_run_status, "
            "dl_to_sink_last_loader_run_timestamp, source_type, sink_type FROM pipeline_config"
        ).fetchone()
    assert run[:4] == ("success", 6, 6, "manual") and run[6] is None
    assert run[4].endswith("Z") and run[4] <= run[5]
    # check_source counts nothing (a full scan per run); extract counts in its own snapshot.
    assert [(o, s, r) for o, s, r, _, _ in logs] == [
        (1, "success", 0),
        (2, "success", 25),
        (3, "success", 25),
        (4, "success", 0),
        (5, "success", 25),
        (6, "success", 25),
    ]
    assert all(float(t) >= 0 for _, _, _, t, _ in logs)
    assert hop[:2] == ("success", "success") and hop[3:] == ("sqlite", "duckdb")


def test_table_add_and_edit_take_the_same_options(configured: Sluice) -> None:
    def options(command: str) -> set[str]:
        text = configured(f"{command} --help", ok=True).out
        return set(re.findall(r"--[a-z][a-z-]+", text)) - {"--help"}

    assert options("table add") == options("table edit")
    given = (
        "--load incremental --key GenreId --every 5 --sink-load incremental "
        "--sink-key GenreId --sink-every 7 --primary-key GenreId,Name --pipeline default "
        "--lookback 10 --null-key-fallback Name --lake-keep-full 4"
    )
    added = configured(
        f"table add Track --source chinook --destination wh --sink-table tracks {given} --json",
        ok=True,
    )
    edited = configured(f"table edit Genre --sink-table genres {given} --json", ok=True).json()
    assert (added.json()["sink_tablename"], edited["sink_tablename"]) == ("tracks", "genres")
    for shown in (added.json(), edited):
        assert shown["source_to_dl"]["load_type"] == "incremental"
        assert shown["source_to_dl"]["incremental_key"] == "GenreId"
        assert shown["source_to_dl"]["schedule_minutes"] == 5
        assert shown["dl_to_sink"]["load_type"] == "incremental"
        assert shown["dl_to_sink"]["incremental_key"] == "GenreId"
        assert shown["dl_to_sink"]["schedule_minutes"] == 7
        assert shown["primary_key"] == ["GenreId", "Name"]
        assert (shown["lookback"], shown["null_key_fallback"]) == ("10", "Name")
        assert shown["lake_keep_full"] == 4


def test_two_tables_cannot_load_into_one_sink_table(configured: Sluice, workdir: Path) -> None:
    configured("table add sales.orders --source chinook --destination wh --no-check", ok=True)
    # The default sink name drops the schema: archive.orders would load into orders too.
    refused = configured("table add archive.orders --source chinook --destination wh --no-check")
    assert refused.code == 5
    assert refused.err.strip() == (
        "error: table 'sales.orders' loads into sink table 'orders' of destination 'wh' "
        "already, and sink table 'orders' is the same table there: two tables loading into one "
        "would mix their rows and load state; give table 'archive.orders' its own with "
        "--sink-table NAME (such as --sink-table archive_orders)"
    )
    # DuckDB matches quoted names whatever their ASCII case, and 'main' is its default schema.
    for sink_table in ("ORDERS", "main.Orders"):
        clash = configured(f"table edit Genre --sink-table {sink_table}")
        assert clash.code == 5
        assert "table 'sales.orders' loads into sink table 'orders'" in clash.err
        assert f"and sink table '{sink_table}' is the same table there (duckdb resolves both" in (
            clash.err
        )
    assert configured("table show Genre --json", ok=True).json()["sink_tablename"] == "Genre"
    configured(
        "table add archive.orders --source chinook --destination wh --sink-table archive_orders",
        "--no-check",
        ok=True,
    )
    configured("table edit Genre --sink-table other.orders", ok=True)  # another schema

    # Moving to a destination where the name is taken is refused as well; another one is free.
    spare = workdir / "spare.duckdb"
    configured(f'destination add spare --type duckdb --creds \'{{"path": "{spare}"}}\'', ok=True)
    configured("table add Track --source chinook --destination spare --sink-table Orders", ok=True)
    moved = configured("table edit Track --destination wh")
    assert moved.code == 5
    assert "give table 'Track' its own with --sink-table NAME (such as --sink-table Track)" in (
        moved.err
    )
    assert configured("table show Track --json", ok=True).json()["destination_name"] == "spare"
    configured("table edit Track --destination wh --sink-table Track", ok=True)
    assert configured("table list", ok=True).err == ""  # no clash left to warn of


def test_a_clash_stored_by_an_older_version_still_loads_and_is_warned_of(
    configured: Sluice, workdir: Path
) -> None:
    configured("table add Track --source chinook --destination wh", ok=True)
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        c.execute(
            "UPDATE pipeline_config SET sink_tablename = 'genre' WHERE source_tablename = 'Track'"
        )
    warning = (
        "warning: tables 'Genre', 'Track' load into one sink table ('Genre') of destination "
        "'wh', so their loads can mix rows and load state: give all but one their own with "
        "`sluice table edit NAME --sink-table NEW`"
    )
    listed = configured("table list --json", ok=True)
    assert [t["sink_tablename"] for t in listed.json()] == ["Genre", "genre"]
    assert " ".join(listed.err.split()) == warning
    assert " ".join(configured("table show Track", ok=True).err.split()) == warning
    # Edits that leave the sink table where it is still work.
    configured("table edit Track --every 5", ok=True)
    assert configured("table edit Genre --sink-table GENRE").code == 3  # a re-spelling
    configured("table add Album --source chinook --destination wh", ok=True)
    assert configured("table show Album", ok=True).err == ""  # not part of the pair
    configured("table edit Track --sink-table tracks", ok=True)
    assert configured("table list", ok=True).err == ""


def test_sink_table_names_sluice_keeps_or_already_tracks_under_another_spelling(
    configured: Sluice,
) -> None:
    for reserved in ("_sluice_state", "main.__sluice_stage_1_genre", "__SLUICE_x"):
        refused = configured(f"table edit Genre --sink-table {reserved}")
        assert refused.code == 3, reserved
        assert refused.err.startswith(f"error: sink table name {reserved!r} is reserved")
    # DuckDB: main.genre is the table Genre already names; the load state is kept by spelling.
    respelled = configured("table edit Genre --sink-table main.genre")
    assert respelled.code == 3
    assert respelled.err.strip() == (
        "error: sink table 'main.genre' is the table 'Genre' already names (duckdb resolves "
        "both to main.genre); the sink's record of the batches it holds is kept under the name "
        "as written, so keep 'Genre'"
    )
    assert configured("table show Genre --json", ok=True).json()["sink_tablename"] == "Genre"
    configured("table edit Genre --sink-table Genres", ok=True)  # another table: fine


def test_numbers_too_large_for_the_database_are_refused_in_one_line(configured: Sluice) -> None:
    huge = "999999999999999999999"
    for command in (
        f"runs show {huge}",
        f"stages add --pipeline p --order {huge} --type extract --name x",
    ):
        result = configured(command)
        assert result.code == 2, command
        assert result.err == (
            "error: a number given on the command line is too large: give a smaller one\n"
        )
    every = configured(f"table edit Genre --every {huge}")
    assert every.code == 3 and "from 1 to 5256000 (ten years)" in every.err
    assert configured("status", ok=True).code == 0
