"""The six tables exactly as the user's seed describes them.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_config",
        sa.Column("source_tablename", sa.Text, primary_key=True),
        sa.Column("sink_tablename", sa.Text),
        sa.Column("source_to_dl_schedule", sa.Integer),
        sa.Column("source_to_dl_load_type", sa.Text),
        sa.Column("source_to_dl_is_active", sa.Boolean),
        sa.Column("source_type", sa.Text, server_default="postgres"),
        sa.Column("source_to_dl_incremental_key", sa.Text),
        sa.Column("source_to_dl_last_incremental_value", sa.Text),
        sa.Column("dl_to_sink_schedule", sa.Integer),
        sa.Column("dl_to_sink_load_type", sa.Text),
        sa.Column("dl_to_sink_is_active", sa.Boolean),
        sa.Column("sink_type", sa.Text, server_default="postgres"),
        sa.Column("dl_to_sink_incremental_key", sa.Text),
        sa.Column("dl_to_sink_last_incremental_value", sa.Text),
        sa.Column("dl_to_sink_last_loader_run_timestamp", UTCTimestamp),
        sa.Column("dl_to_sink_last_loader_run_status", sa.Text),
    )
    op.create_table(
        "sources_config",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("source_name", sa.Text, nullable=False, unique=True),
        sa.Column("source_type", sa.Text, nullable=False),
        sa.Column("source_creds", sa.Text),
        sa.Column("created_at", UTCTimestamp),
    )
    op.create_table(
        "destinations_config",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("destination_name", sa.Text, nullable=False, unique=True),
        sa.Column("destination_type", sa.Text, nullable=False),
        sa.Column("destination_creds", sa.Text),
        sa.Column("created_at", UTCTimestamp),
    )
    op.create_table(
        "pipeline_stages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline_name", sa.Text, nullable=False),
        sa.Column("stage_order", sa.Integer, nullable=False),
        sa.Column("stage_name", sa.Text, nullable=False),
        sa.Column("stage_type", sa.Text, nullable=False),
        sa.Column("driver_container", sa.Text),
        sa.UniqueConstraint("pipeline_name", "stage_order", name="uq_pipeline_stages_order"),
    )
    op.create_table(
        "pipeline_runs_master",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "source_tablename",
            sa.Text,
            sa.ForeignKey("pipeline_config.source_tablename", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("pipeline_name", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("current_stage", sa.Integer),
        sa.Column("total_stages", sa.Integer),
        sa.Column("triggered_by", sa.Text),
        sa.Column("started_at", UTCTimestamp),
        sa.Column("completed_at", UTCTimestamp),
        sa.Column("error_message", sa.Text),
    )
    op.create_table(
        "pipeline_run_stage_logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "pipeline_run_id",
            sa.Integer,
            sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stage_order", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("rows_processed", sa.Integer),
        sa.Column("file_paths", sa.Text),
        sa.Column("time_taken", sa.Text),
        sa.Column("started_at", UTCTimestamp),
    )


def downgrade() -> None:
    for table in (
        "pipeline_run_stage_logs",
        "pipeline_runs_master",
        "pipeline_stages",
        "destinations_config",
        "sources_config",
        "pipeline_config",
    ):
        op.drop_table(table)
