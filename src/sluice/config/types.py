"""Column types shared by the schema and the migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect


class _SQLiteISOTimestamp(sqlite.DATETIME):
    """Declared as TIMESTAMP (the seed's type) and stored as ISO-8601 text ending in Z."""

    __visit_name__ = "TIMESTAMP"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "storage_format",
            "%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d"
            ".%(microsecond)06dZ",
        )
        kwargs.setdefault("regexp", r"(\d+)-(\d+)-(\d+)[T ](\d+):(\d+):(\d+)(?:\.(\d+))?Z?")
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]


class UTCTimestamp(sa.types.TypeDecorator[datetime]):
    """A UTC instant: TIMESTAMP WITH TIME ZONE on PostgreSQL, ISO-8601 text on SQLite.

    Values always come back timezone-aware in UTC, whatever the backend.
    """

    impl = sa.TIMESTAMP(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteISOTimestamp())
        return dialect.type_descriptor(sa.TIMESTAMP(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
