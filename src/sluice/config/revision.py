"""Which schema revision a config database is at, without loading Alembic.

Every command opens the config database and checks its revision; Alembic and the migration
scripts are imported only by `sluice init` (config/migrate.py), which changes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# The newest migration in config/migrations/versions (a test keeps the two equal).
HEAD_REVISION = "0021"


def current_revision(engine: Engine) -> str | None:
    """The revision Alembic stamped, or None for a database it never migrated."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
        return next(iter(found), None)
