"""Scheduler liveness: when the lease holder last finished a pass (issue 12 adds more here).

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


def downgrade() -> None:
    op.drop_column("sluice_leases", "last_pass_at")
