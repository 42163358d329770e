"""Alembic environment: sluice always hands over an open connection (see config/migrate.py)."""

from __future__ import annotations

from alembic import context

from sluice.config.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
