"""Reload runs: `pipeline_runs_master.reload` marks a run started by `sluice table reload`
(hop 1 reads the table in full whatever its load type and starts the lake afresh; hop 2 swaps
the sink table in whole from the lake's newest reload or full snapshot).

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


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs_master") as batch:
        batch.drop_column("reload")
