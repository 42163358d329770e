"""Reserved for issue 13 (watermark future policy); no change yet.

Revision ID: 0010
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
