"""The config database handle every repository shares: an engine and short transactions.

`tx()` is a transaction that may write (on SQLite it takes the write lock at BEGIN, so a read
that turns into a write waits its turn instead of failing). `read()` only reads: on SQLite a
deferred BEGIN, a WAL snapshot that never holds the writer's lock, so a long listing (the
API, `status`, the dashboard) never delays a run's state writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# The execution option that marks a read-only transaction (config/database.py reads it).
READ_ONLY = "sluice_read_only"


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection
