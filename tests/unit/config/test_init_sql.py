"""init.sql and the migrations must describe the same database, and a seed-made one upgrades."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sluice.config.database import create_config_engine
from sluice.config.migrate import current_revision, head_revision, upgrade
from tests.conftest import PROJECT

INIT_SQL = PROJECT / "databases" / "config_db" / "init.sql"
SEED_COLUMNS = {
    "pipeline_config": [
        "source_tablename",
        "sink_tablename",
        "source_to_dl_schedule",
        "source_to_dl_load_type",
        "source_to_dl_is_active",
        "source_type",
        "source_to_dl_incremental_key",
        "source_to_dl_last_incremental_value",
        "dl_to_sink_schedule",
        "dl_to_sink_load_type",
        "dl_to_sink_is_active",
        "sink_type",
        "dl_to_sink_incremental_key",
        "dl_to_sink_last_incremental_value",
        "dl_to_sink_last_loader_run_timestamp",
        "dl_to_sink_last_loader_run_status",
    ],
    "sources_config": ["id", "source_name", "source_type", "source_creds", "created_at"],
    "destinations_config": [
        "id",
        "destination_name",
        "destination_type",
        "destination_creds",
        "created_at",
    ],
    "pipeline_stages": [
        "id",
        "pipeline_name",
        "stage_order",
        "stage_name",
        "stage_type",
        "driver_container",
    ],
    "pipeline_runs_master": [
        "id",
        "source_tablename",
        "pipeline_name",
        "status",
        "current_stage",
        "total_stages",
        "triggered_by",
        "started_at",
        "completed_at",
        "error_message",
    ],
    "pipeline_run_stage_logs": [
        "id",
        "pipeline_run_id",
        "stage_order",
        "status",
        "rows_processed",
        "file_paths",
        "time_taken",
        "started_at",
    ],
}


def describe(path: Path) -> dict[str, Any]:
    """Everything about a SQLite database's schema that a program could depend on."""
    engine = sa.create_engine(f"sqlite:///{path}")
    inspector = sa.inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    f.get("options", {}).get("ondelete"),
                )
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "uniques": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
        }
    with engine.connect() as connection:
        shape["_stages"] = connection.exec_driver_sql(
            "SELECT pipeline_name, stage_order, stage_name, stage_type, driver_container "
            "FROM pipeline_stages ORDER BY pipeline_name, stage_order"
        ).all()
        shape["_revision"] = connection.exec_driver_sql(
            "SELECT version_num FROM alembic_version"
        ).all()
        # The triggers (the stats rollup, 0007; the stage start, 0014): the same text either way.
        shape["_triggers"] = [
            (name, table, " ".join(sql.split()))
            for name, table, sql in connection.exec_driver_sql(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            )
        ]
    engine.dispose()
    return shape


def test_init_sql_and_migrations_make_the_same_schema(tmp_path: Path) -> None:
    from_sql = tmp_path / "from_sql.db"
    with sqlite3.connect(from_sql) as connection:
        connection.executescript(INIT_SQL.read_text())
    from_migrations = tmp_path / "from_migrations.db"
    upgrade(create_config_engine(f"sqlite:///{from_migrations}"))
    shape = describe(from_sql)
    assert shape == describe(from_migrations)
    # The stats rollup's (three per table) and the stage start's (0014).
    assert len(shape["_triggers"]) == 7


def test_the_seed_tables_keep_their_column_names_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    upgrade(create_config_engine(f"sqlite:///{path}"))
    shape = describe(path)
    for table, columns in SEED_COLUMNS.items():
        names = [c[0] for c in shape[table]["columns"]]
        assert names[: len(columns)] == columns, table
        for extra in shape[table]["columns"][len(columns) :]:
            assert extra[2] is True, f"{table}.{extra[0]} must be nullable"


def test_a_database_made_from_the_seed_description_is_upgraded_in_place(tmp_path: Path) -> None:
    """The user's own database (the six tables, no sluice columns) keeps its rows and works."""
    path = tmp_path / "seed.db"
    with sqlite3.connect(path) as connection:
        for table, columns in SEED_COLUMNS.items():
            connection.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        connection.execute(
            "INSERT INTO pipeline_config (source_tablename, source_to_dl_load_type, "
            "dl_to_sink_load_type) VALUES ('orders', 'full', 'full')"
        )
    engine = create_config_engine(f"sqlite:///{path}")
    before, after = upgrade(engine)
    assert (before, after) == (None, head_revision())
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT source_tablename, pipeline_name, source_name FROM pipeline_config"
        ).one()
        assert tuple(row) == ("orders", "default", None)
        stages = connection.exec_driver_sql("SELECT count(*) FROM pipeline_stages").scalar_one()
        assert stages == 6


def test_upgrading_twice_changes_nothing(tmp_path: Path) -> None:
    engine = create_config_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    assert upgrade(engine) == (head_revision(), head_revision())


def test_the_schema_module_matches_the_migrations(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sluice.config.schema import metadata

    engine = create_config_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_the_revision_check_without_alembic_agrees_with_alembic(tmp_path: Path) -> None:
    from alembic.runtime.migration import MigrationContext

    from sluice.config.revision import HEAD_REVISION

    assert head_revision() == HEAD_REVISION  # a new migration must move the constant too
    engine = create_config_engine(f"sqlite:///{tmp_path / 'c.db'}")
    assert current_revision(engine) is None  # nothing there yet
    upgrade(engine)
    with engine.connect() as connection:
        by_alembic = MigrationContext.configure(connection).get_current_revision()
    assert current_revision(engine) == by_alembic == HEAD_REVISION
