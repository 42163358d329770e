"""Per-table lake retention: how many full snapshots the lake keeps (NULL: the default, 3).

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_config", sa.Column("lake_keep_full", sa.Integer))


def downgrade() -> None:
    op.drop_column("pipeline_config", "lake_keep_full")
