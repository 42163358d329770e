"""sluice's additions: hop 1 run status, connections, key, template, run hop, settings.

Every added column is nullable with a default, so a seed-created database upgrades in place.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DEFAULT_STAGES = (
    (1, "Check source", "check_source", "driver_source_to_dl"),
    (2, "Extract to lake", "extract", "driver_source_to_dl"),
    (3, "Verify lake batch", "verify_lake", "driver_source_to_dl"),
    (4, "Check sink", "check_sink", "driver_dl_to_sink"),
    (5, "Load sink", "load", "driver_dl_to_sink"),
    (6, "Verify sink", "verify_sink", "driver_dl_to_sink"),
)


def upgrade() -> None:
    op.add_column(
        "pipeline_config", sa.Column("source_to_dl_last_loader_run_timestamp", UTCTimestamp)
    )
    op.add_column("pipeline_config", sa.Column("source_to_dl_last_loader_run_status", sa.Text))
    op.add_column("pipeline_config", sa.Column("source_name", sa.Text))
    op.add_column("pipeline_config", sa.Column("destination_name", sa.Text))
    op.add_column("pipeline_config", sa.Column("primary_key", sa.Text))
    op.add_column("pipeline_config", sa.Column("pipeline_name", sa.Text, server_default="default"))
    op.add_column("pipeline_runs_master", sa.Column("hop", sa.Text, server_default="all"))
    op.create_index("ix_runs_table_id", "pipeline_runs_master", ["source_tablename", "id"])
    op.create_index("ix_runs_status", "pipeline_runs_master", ["status"])
    op.add_column("pipeline_run_stage_logs", sa.Column("stage_name", sa.Text))
    op.add_column("pipeline_run_stage_logs", sa.Column("stage_type", sa.Text))
    op.add_column("pipeline_run_stage_logs", sa.Column("completed_at", UTCTimestamp))
    op.add_column("pipeline_run_stage_logs", sa.Column("error_message", sa.Text))
    op.create_index(
        "ix_stage_logs_run", "pipeline_run_stage_logs", ["pipeline_run_id", "stage_order"]
    )
    op.create_table(
        "sluice_settings",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    stages = sa.table(
        "pipeline_stages",
        sa.column("pipeline_name", sa.Text),
        sa.column("stage_order", sa.Integer),
        sa.column("stage_name", sa.Text),
        sa.column("stage_type", sa.Text),
        sa.column("driver_container", sa.Text),
    )
    connection = op.get_bind()
    has_default = connection.execute(
        sa.select(sa.func.count()).select_from(stages).where(stages.c.pipeline_name == "default")
    ).scalar_one()
    if not has_default:
        op.bulk_insert(
            stages,
            [
                {
                    "pipeline_name": "default",
                    "stage_order": order,
                    "stage_name": name,
                    "stage_type": stage_type,
                    "driver_container": pool,
                }
                for order, name, stage_type, pool in _DEFAULT_STAGES
            ],
        )


def downgrade() -> None:
    op.drop_table("sluice_settings")
    op.drop_index("ix_stage_logs_run", "pipeline_run_stage_logs")
    for column in ("error_message", "completed_at", "stage_type", "stage_name"):
        op.drop_column("pipeline_run_stage_logs", column)
    op.drop_index("ix_runs_status", "pipeline_runs_master")
    op.drop_index("ix_runs_table_id", "pipeline_runs_master")
    op.drop_column("pipeline_runs_master", "hop")
    for column in (
        "pipeline_name",
        "primary_key",
        "destination_name",
        "source_name",
        "source_to_dl_last_loader_run_status",
        "source_to_dl_last_loader_run_timestamp",
    ):
        op.drop_column("pipeline_config", column)
