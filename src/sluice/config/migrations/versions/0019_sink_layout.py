"""A sink table's layout where the sink has one (BigQuery): `dl_to_sink_partition_by`
(COLUMN[:day|hour|month|year] or COLUMN:START:END:INTERVAL) and `dl_to_sink_cluster_by`
(comma-separated columns); none: the sink's default.

Revision ID: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_config", sa.Column("dl_to_sink_partition_by", sa.Text))
    op.add_column("pipeline_config", sa.Column("dl_to_sink_cluster_by", sa.Text))


def downgrade() -> None:
    op.drop_column("pipeline_config", "dl_to_sink_cluster_by")
    op.drop_column("pipeline_config", "dl_to_sink_partition_by")
