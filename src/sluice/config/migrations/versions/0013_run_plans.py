"""Run plans: the stages a run executes, frozen when it is created.

`sluice_run_plans` holds one row per stage of a run (order, name, type, driver container)
copied from the template in the run's own creating transaction. The engine and every
executor read the plan, never the template, so editing a template changes no run already
made. Runs made before this revision have no plan rows and are read from their template.

Revision ID: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sluice_run_plans",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("stage_order", sa.Integer, primary_key=True),
        sa.Column("stage_name", sa.Text, nullable=False),
        sa.Column("stage_type", sa.Text, nullable=False),
        sa.Column("driver_container", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("sluice_run_plans")
