"""Hop 1's guard against keys in the future: per table, how far ahead of the clock a time key
may be (`source_to_dl_future_tolerance`, a duration, default 1h) and what a run does with rows
beyond it (`source_to_dl_future_policy`: `fail`, the default, or `hold` them back until they
are due); `source_to_dl_future_held` says what the last run held back (NULL: nothing).

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = (
    ("source_to_dl_future_tolerance", "1h"),
    ("source_to_dl_future_policy", "fail"),
    ("source_to_dl_future_held", None),
)


def upgrade() -> None:
    for name, default in COLUMNS:
        op.add_column("pipeline_config", sa.Column(name, sa.Text, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_config") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
