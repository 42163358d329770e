"""The lake's Iceberg catalog: pyiceberg's SQL catalog tables, in the config database.

`iceberg_tables` points each lake table (namespace = its source, name = the table) at its
current metadata file; a commit is one compare-and-swap UPDATE of that pointer.
`iceberg_namespace_properties` holds the namespaces. The columns are pyiceberg's own (its
catalog schema v1), made here so that pyiceberg never runs DDL (lake/iceberg.py).

Revision ID: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iceberg_tables",
        sa.Column("catalog_name", sa.String(255), primary_key=True),
        sa.Column("table_namespace", sa.String(255), primary_key=True),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("metadata_location", sa.String(1000)),
        sa.Column("previous_metadata_location", sa.String(1000)),
        sa.Column("iceberg_type", sa.String(5)),
    )
    op.create_table(
        "iceberg_namespace_properties",
        sa.Column("catalog_name", sa.String(255), primary_key=True),
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("property_key", sa.String(255), primary_key=True),
        sa.Column("property_value", sa.String(1000), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("iceberg_namespace_properties")
    op.drop_table("iceberg_tables")
