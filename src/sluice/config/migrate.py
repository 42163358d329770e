"""Versioned migrations (Alembic), run in-process against an open connection."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from sluice.config.revision import current_revision

_MIGRATIONS = Path(__file__).with_name("migrations")
SEED_REVISION = "0001"

__all__ = ["SEED_REVISION", "current_revision", "head_revision", "upgrade"]


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; return (revision before, revision after).

    A database that has the seed's tables but was never migrated by sluice (created from the
    user's own description) is stamped at the seed revision first, then upgraded in place.
    """
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config = _alembic_config(connection)
        if before is None and sa.inspect(connection).has_table("pipeline_config"):
            command.stamp(config, SEED_REVISION)
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
    assert after is not None
    return before, after
