"""Reserved for issue 12 (hop order, scheduler liveness); no change yet.

Revision ID: 0009
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
