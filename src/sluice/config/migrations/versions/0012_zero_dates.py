"""Zero dates: what hop 1 does with a MySQL/MariaDB zero date ('0000-00-00', a zero month or day).

`pipeline_config.source_to_dl_zero_dates`: `fail` (the default: the run fails naming the
column) or `null` (read as NULL, counted in the stage's warnings). Only MySQL and MariaDB
hold such values; every other source reads the setting and has nothing to do.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "pipeline_config",
        sa.Column("source_to_dl_zero_dates", sa.Text, server_default="fail"),
    )


def downgrade() -> None:
    with op.batch_alter_table("pipeline_config") as batch:
        batch.drop_column("source_to_dl_zero_dates")
