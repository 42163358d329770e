"""Unattended operation: when the scheduler last finished a pass, and each table's hop order
(`after`: hop 2 waits for hop 1 and follows its batches, the default; `independent`: each hop
on its own interval, as before).

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sluice_leases", sa.Column("last_pass_at", UTCTimestamp))
    op.add_column(
        "pipeline_config", sa.Column("dl_to_sink_hop_order", sa.Text, server_default="after")
    )


def downgrade() -> None:
    with op.batch_alter_table("pipeline_config") as batch:
        batch.drop_column("dl_to_sink_hop_order")
    op.drop_column("sluice_leases", "last_pass_at")
