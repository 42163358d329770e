"""Alerts: where notifications go (`sluice_alert_targets`, each an Apprise URL, sealed like
creds since it usually holds a token) and the state each table's hop was last announced in
(`sluice_alert_states`: ok, failed or stale), so each change is announced once.

Revision ID: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sluice.config.types import UTCTimestamp

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sluice_alert_targets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("created_at", UTCTimestamp, nullable=False),
    )
    op.create_table(
        "sluice_alert_states",
        sa.Column("source_tablename", sa.Text, primary_key=True),
        sa.Column("hop", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("changed_at", UTCTimestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sluice_alert_states")
    op.drop_table("sluice_alert_targets")
