"""Reload runs and schema contracts.

`pipeline_runs_master.reload` marks a run started by `sluice table reload` (hop 1 reads the
table in full whatever its load type; hop 2 swaps the sink table in whole from the lake's
newest reload or full snapshot). `pipeline_config.schema_contract` holds what hop 1 does with
added, dropped, widened and changed columns (core/schema_contract.py; NULL: the defaults), and
`pipeline_run_stage_logs.warnings` what a stage applied that the user should know of.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "pipeline_runs_master",
        sa.Column("reload", sa.Boolean, server_default=sa.false()),
    )
    op.add_column("pipeline_config", sa.Column("schema_contract", sa.Text))
    op.add_column("pipeline_run_stage_logs", sa.Column("warnings", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_run_stage_logs") as batch:
        batch.drop_column("warnings")
    with op.batch_alter_table("pipeline_config") as batch:
        batch.drop_column("schema_contract")
    with op.batch_alter_table("pipeline_runs_master") as batch:
        batch.drop_column("reload")
