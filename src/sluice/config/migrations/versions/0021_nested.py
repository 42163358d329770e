"""Nested values of a document source per table: `pipeline_config.source_to_dl_nested`,
`struct` (nested documents and arrays become structs and lists, the default) or `json` (they
become JSON text).

Revision ID: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_config") as batch:
        batch.add_column(sa.Column("source_to_dl_nested", sa.Text, server_default="struct"))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_config") as batch:
        batch.drop_column("source_to_dl_nested")
