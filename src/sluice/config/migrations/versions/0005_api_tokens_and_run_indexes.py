"""API tokens, and the indexes that keep run listings and dashboard figures fast.

The indexes serve the REST API (src/sluice/api): run listings filtered by trigger or time,
figures over a time window, for all tables or one (runs by status and by day, rows loaded per
table and day, mean duration per stage type), and each (table, hop)'s newest run and last
successful run (one index lookup each, where a scan would read every run of the table). The
stage log index is covering, so windowed figures never read the stage log rows themselves.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_runs_started_status", "pipeline_runs_master", ["started_at", "status"]),
    ("ix_runs_triggered_by_id", "pipeline_runs_master", ["triggered_by", "id"]),
    ("ix_runs_table_started", "pipeline_runs_master", ["source_tablename", "started_at"]),
    ("ix_runs_table_hop_id", "pipeline_runs_master", ["source_tablename", "hop", "id"]),
    (
        "ix_runs_table_hop_status",
        "pipeline_runs_master",
        ["source_tablename", "hop", "status", "completed_at"],
    ),
    (
        "ix_stage_logs_type_started",
        "pipeline_run_stage_logs",
        ["stage_type", "started_at", "status", "rows_processed", "time_taken", "pipeline_run_id"],
    ),
)


def upgrade() -> None:
    op.create_table(
        "sluice_api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", UTCTimestamp, nullable=False),
        sa.Column("last_used_at", UTCTimestamp),
        sa.Column("revoked_at", UTCTimestamp),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("sluice_api_tokens")
