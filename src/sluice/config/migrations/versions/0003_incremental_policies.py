"""Per-table incremental policies of hop 1: look-back window and NULL-key fallback column.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_config", sa.Column("source_to_dl_lookback", sa.Text))
    op.add_column("pipeline_config", sa.Column("source_to_dl_null_key_fallback", sa.Text))


def downgrade() -> None:
    op.drop_column("pipeline_config", "source_to_dl_null_key_fallback")
    op.drop_column("pipeline_config", "source_to_dl_lookback")
