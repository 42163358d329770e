"""A daily rollup of the dashboard's figures, and the triggers that keep it from going stale.

sluice_stats_runs holds runs per (day, table, status); sluice_stats_stages holds, per (day,
table, stage type), the count, summed and longest duration of the stages with a time_taken,
and the count and summed rows of the succeeded ones. A day is the UTC day of the run's or
stage log's started_at, as the window queries bound it. sluice_stats_days counts, per day, the
changes to its runs and stage logs (`changes`) and records at which count the rollup rows were
taken (`rolled_up`): they are used only while the two are equal.

The triggers bump `changes` in the writer's own transaction, whoever the writer is (the
engine, the reaper, `table remove`, another tool), for the day of the old and of the new row.
On SQLite a day is matched as the window queries match it, by comparing the stored text with
the day's bounds, so a timestamp stored in another format (`2026-01-02 03:04:05`) bumps the day
whose figures count it.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RUN_COLUMNS = ("status", "started_at", "source_tablename")
LOG_COLUMNS = (
    "status",
    "rows_processed",
    "time_taken",
    "started_at",
    "stage_type",
    "pipeline_run_id",
)
TRIGGERS = (
    ("sluice_stats_run_added", "pipeline_runs_master"),
    ("sluice_stats_run_changed", "pipeline_runs_master"),
    ("sluice_stats_run_removed", "pipeline_runs_master"),
    ("sluice_stats_stage_log_added", "pipeline_run_stage_logs"),
    ("sluice_stats_stage_log_changed", "pipeline_run_stage_logs"),
    ("sluice_stats_stage_log_removed", "pipeline_run_stage_logs"),
)


def _sqlite_day_of(at: str) -> str:
    """The day whose bounds hold `at`: the day its text names, or the one before for text that
    sorts below that day's first instant (no fraction, a space for the T)."""
    return (
        f"day IN (substr({at}, 1, 10), date(substr({at}, 1, 10), '-1 day'))"
        f" AND {at} >= day || 'T00:00:00.000000Z'"
        f" AND {at} < date(day, '+1 day') || 'T00:00:00.000000Z'"
    )


def _sqlite_days_of_logs(run: str) -> str:
    """The days of a run's stage logs, each with the day before (a spare bump costs one
    recomputed day, and these bumps are rare)."""
    return (
        "SELECT substr(started_at, 1, 10) FROM pipeline_run_stage_logs"
        f" WHERE pipeline_run_id = {run}.id"
        " UNION SELECT date(substr(started_at, 1, 10), '-1 day') FROM pipeline_run_stage_logs"
        f" WHERE pipeline_run_id = {run}.id"
    )


def _sqlite_triggers() -> list[str]:
    bump = "UPDATE sluice_stats_days SET changes = changes + 1 WHERE"
    old, new = _sqlite_day_of("OLD.started_at"), _sqlite_day_of("NEW.started_at")
    run_changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in RUN_COLUMNS)
    log_changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in LOG_COLUMNS)
    # A run's stage logs count under its table: a run that appears, moves to another table or
    # goes (without its logs, where there is no foreign key) changes their days too.
    return [
        "CREATE TRIGGER sluice_stats_run_added AFTER INSERT ON pipeline_runs_master\n"
        f"BEGIN\n    {bump} {new};\n"
        f"    {bump} day IN ({_sqlite_days_of_logs('NEW')});\nEND",
        f"CREATE TRIGGER sluice_stats_run_changed AFTER UPDATE OF {', '.join(RUN_COLUMNS)}"
        f" ON pipeline_runs_master\nWHEN {run_changed}\nBEGIN\n"
        f"    {bump} ({old}) OR ({new});\n"
        f"    {bump} OLD.source_tablename IS NOT NEW.source_tablename"
        f" AND day IN ({_sqlite_days_of_logs('NEW')});\nEND",
        "CREATE TRIGGER sluice_stats_run_removed AFTER DELETE ON pipeline_runs_master\n"
        f"BEGIN\n    {bump} {old};\n"
        f"    {bump} day IN ({_sqlite_days_of_logs('OLD')});\nEND",
        "CREATE TRIGGER sluice_stats_stage_log_added AFTER INSERT ON pipeline_run_stage_logs\n"
        f"BEGIN\n    {bump} {new};\nEND",
        f"CREATE TRIGGER sluice_stats_stage_log_changed AFTER UPDATE OF {', '.join(LOG_COLUMNS)}"
        f" ON pipeline_run_stage_logs\nWHEN {log_changed}\nBEGIN\n"
        f"    {bump} ({old}) OR ({new});\nEND",
        "CREATE TRIGGER sluice_stats_stage_log_removed AFTER DELETE ON pipeline_run_stage_logs\n"
        f"BEGIN\n    {bump} {old};\nEND",
    ]


def _postgresql_triggers() -> list[str]:
    day = "(({}.started_at AT TIME ZONE 'UTC')::date)"
    bump = "UPDATE sluice_stats_days SET changes = changes + 1 WHERE day = "
    # One function per table: a trigger function shared by both would name columns the other
    # table lacks.
    body = f"""
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {bump}{day.format("OLD")};
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {bump}{day.format("NEW")};
    END IF;
    {{extra}}RETURN NULL;
END"""
    # A run's stage logs count under its table: a run that appears, moves to another table or
    # goes (without its logs, where there is no foreign key) changes their days too.
    moved = f"""IF TG_OP <> 'UPDATE'
            OR OLD.source_tablename IS DISTINCT FROM NEW.source_tablename THEN
        UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (
            SELECT {day.format("l")} FROM pipeline_run_stage_logs l
            WHERE l.pipeline_run_id = (CASE TG_OP WHEN 'DELETE' THEN OLD.id ELSE NEW.id END));
    END IF;
    """
    found = [
        "CREATE FUNCTION sluice_stats_run_touched() RETURNS trigger LANGUAGE plpgsql AS $$"
        + body.format(extra=moved)
        + "\n$$",
        "CREATE FUNCTION sluice_stats_stage_log_touched() RETURNS trigger LANGUAGE plpgsql AS $$"
        + body.format(extra="")
        + "\n$$",
    ]
    for noun, table, columns in (
        ("run", "pipeline_runs_master", RUN_COLUMNS),
        ("stage_log", "pipeline_run_stage_logs", LOG_COLUMNS),
    ):
        run = f"FOR EACH ROW EXECUTE FUNCTION sluice_stats_{noun}_touched()"
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        found += [
            f"CREATE TRIGGER sluice_stats_{noun}_added AFTER INSERT ON {table} {run}",
            f"CREATE TRIGGER sluice_stats_{noun}_changed AFTER UPDATE OF {', '.join(columns)}"
            f" ON {table} FOR EACH ROW WHEN ({changed})"
            f" EXECUTE FUNCTION sluice_stats_{noun}_touched()",
            f"CREATE TRIGGER sluice_stats_{noun}_removed AFTER DELETE ON {table} {run}",
        ]
    return found


TRIGGER_DDL = {"sqlite": _sqlite_triggers, "postgresql": _postgresql_triggers}
DROP_TRIGGER = {
    "sqlite": "DROP TRIGGER IF EXISTS {name}",
    "postgresql": "DROP TRIGGER IF EXISTS {name} ON {table}",
}
DROP_FUNCTIONS = {
    "postgresql": (
        "DROP FUNCTION IF EXISTS sluice_stats_run_touched()",
        "DROP FUNCTION IF EXISTS sluice_stats_stage_log_touched()",
    )
}


def upgrade() -> None:
    op.create_table(
        "sluice_stats_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("changes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rolled_up", sa.Integer),
    )
    op.create_table(
        "sluice_stats_runs",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("source_tablename", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("runs", sa.Integer, nullable=False),
    )
    op.create_table(
        "sluice_stats_stages",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("source_tablename", sa.Text, primary_key=True),
        sa.Column("stage_type", sa.Text, primary_key=True),
        sa.Column("timed", sa.Integer, nullable=False),
        sa.Column("seconds_sum", sa.Float),
        sa.Column("seconds_max", sa.Float),
        sa.Column("succeeded", sa.Integer, nullable=False),
        sa.Column("rows_processed", sa.BigInteger),
    )
    for statement in TRIGGER_DDL[op.get_context().dialect.name]():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for name, table in TRIGGERS:
        op.execute(DROP_TRIGGER[dialect].format(name=name, table=table))
    for statement in DROP_FUNCTIONS.get(dialect, ()):
        op.execute(statement)
    for table in ("sluice_stats_stages", "sluice_stats_runs", "sluice_stats_days"):
        op.drop_table(table)
