"""Service fixtures. Under CI=true a service that cannot be reached fails the test, never skips."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import IN_CI

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _unreachable(service: str, error: Exception) -> None:
    message = f"{service} is not reachable ({error}); `make services` starts it"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database; yields its URL and drops it afterwards."""
    yield from _throwaway_database()


@pytest.fixture
def pg_target() -> Iterator[str]:
    """A second throwaway database, for tests that copy between two."""
    yield from _throwaway_database()


def _throwaway_database() -> Iterator[str]:
    import psycopg

    name = f"sluice_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unreachable("PostgreSQL on 127.0.0.1:5432", exc)
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
