"""Partitioned extracts: a full hop 1 read split into ranges read in parallel.

`pipeline_config.source_to_dl_partitions`: how many ranges (none: chosen from the table's
size). `sluice_stage_partitions`: one row per range of one extract attempt (`fan_id`), claimed
by the first process to read it (the extract itself or a worker's task), with its heartbeat
and, once done, the parts it wrote; the extract commits them together as one batch.
`sluice_stage_claims`: the worker running each stage task, its heartbeat and, once it ended,
its answer, so a task the broker delivers twice is never run twice at once.

Revision ID: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_config", sa.Column("source_to_dl_partitions", sa.Integer))
    op.create_table(
        "sluice_stage_partitions",
        sa.Column("fan_id", sa.Text, primary_key=True),
        sa.Column("partition_no", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stage_order", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("beat_at", UTCTimestamp),
    )
    op.create_table(
        "sluice_stage_claims",
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("claimed_by", sa.Text, nullable=False),
        sa.Column("beat_at", UTCTimestamp, nullable=False),
        sa.Column("answer", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("sluice_stage_claims")
    op.drop_table("sluice_stage_partitions")
    with op.batch_alter_table("pipeline_config") as batch:
        batch.drop_column("source_to_dl_partitions")
