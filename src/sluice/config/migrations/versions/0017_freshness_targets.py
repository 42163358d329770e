"""Freshness targets: how recently each hop must have succeeded (`{hop}_fresh_within`, a
duration such as 2h; none: twice the hop's schedule).

Revision ID: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_config", sa.Column("source_to_dl_fresh_within", sa.Text))
    op.add_column("pipeline_config", sa.Column("dl_to_sink_fresh_within", sa.Text))


def downgrade() -> None:
    op.drop_column("pipeline_config", "dl_to_sink_fresh_within")
    op.drop_column("pipeline_config", "source_to_dl_fresh_within")
