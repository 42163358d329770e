"""Alert targets per table: `sluice_alert_targets.tables`, comma-separated name patterns
(sales.*,orders) whose tables a target hears of; none: every table.

Revision ID: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sluice_alert_targets") as batch:
        batch.add_column(sa.Column("tables", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("sluice_alert_targets") as batch:
        batch.drop_column("tables")
