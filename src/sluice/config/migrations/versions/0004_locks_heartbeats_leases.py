"""One active run per (table, hop), worker heartbeats, stage attempts, scheduler leases.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_runs_master", sa.Column("heartbeat_at", UTCTimestamp))
    op.add_column("pipeline_runs_master", sa.Column("worker_host", sa.Text))
    op.add_column("pipeline_runs_master", sa.Column("worker_pid", sa.Integer))
    op.add_column("pipeline_runs_master", sa.Column("worker_started", sa.Text))
    op.add_column("pipeline_run_stage_logs", sa.Column("attempts", sa.Integer))
    op.create_table(
        "sluice_run_locks",
        sa.Column("source_tablename", sa.Text, primary_key=True),
        sa.Column("hop", sa.Text, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("acquired_at", UTCTimestamp, nullable=False),
    )
    op.create_table(
        "sluice_leases",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("expires_at", UTCTimestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sluice_leases")
    op.drop_table("sluice_run_locks")
    op.drop_column("pipeline_run_stage_logs", "attempts")
    for column in ("worker_started", "worker_pid", "worker_host", "heartbeat_at"):
        op.drop_column("pipeline_runs_master", column)
