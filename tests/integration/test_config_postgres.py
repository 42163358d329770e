"""The config database on PostgreSQL: the same migrations, the same CLI, the same results."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config.database import create_config_engine, resolve_url
from sluice.config.migrate import head_revision, upgrade
from tests.conftest import CHINOOK_SQLITE, Sluice

pytestmark = pytest.mark.postgres


def columns(url: str) -> dict[str, list[str]]:
    engine = create_config_engine(resolve_url(url))
    inspector = sa.inspect(engine)
    shape = {t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()}
    engine.dispose()
    return shape


def test_migrations_make_the_same_tables_on_postgresql_and_sqlite(
    pg_database: str, tmp_path: Path
) -> None:
    engine = create_config_engine(resolve_url(pg_database))
    assert upgrade(engine) == (None, head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())
    engine.dispose()
    sqlite_url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(create_config_engine(sqlite_url))
    assert columns(pg_database) == columns(sqlite_url)


def test_the_cli_works_on_a_postgresql_config_database(
    pg_database: str, sluice: Sluice, workdir: Path
) -> None:
    db = f"--config-db {pg_database}"
    sluice(f"{db} init", ok=True)
    sluice(
        f'{db} source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True
    )
    sluice(
        f'{db} destination add wh --type sqlite --creds \'{{"path": "{workdir / "wh.sqlite"}"}}\'',
        ok=True,
    )
    sluice(
        f"{db} table add Artist --source chinook --destination wh --load incremental "
        "--key ArtistId --sink-load incremental --primary-key ArtistId",
        ok=True,
    )
    first = sluice(f"{db} run Artist --json", ok=True).json()
    assert first["status"] == "success"
    # check_source counts nothing: the one count is extract's, inside its read's snapshot.
    assert [s["rows_processed"] for s in first["stages"]] == [0, 275, 275, 0, 275, 275]
    second = sluice(f"{db} run Artist --json", ok=True).json()
    assert second["stages"][1]["rows_processed"] == 0
    shown = sluice(f"{db} table show Artist --json", ok=True).json()
    assert shown["source_to_dl"]["last_incremental_value"] == "275"
    assert shown["dl_to_sink"]["last_incremental_value"] == "1"
    assert shown["dl_to_sink"]["last_run_status"] == "success"
    runs = sluice(f"{db} runs --json", ok=True).json()
    assert [r["status"] for r in runs] == ["success", "success"]
    # The stage start's trigger (0014) moved the run along its stages on PostgreSQL too.
    assert [(r["current_stage"], r["total_stages"]) for r in runs] == [(6, 6), (6, 6)]
    assert runs[0]["started_at"].endswith("+00:00")
    failed = sluice(f"{db} table add Artist --source chinook --destination wh")
    assert failed.code == 5
