"""Service fixtures. Under CI=true a service that cannot be reached fails the test, never skips."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

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


MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306


def mysql_admin() -> Any:
    """A PyMySQL connection as root (no password), autocommit, utf8mb4, in UTC."""
    import pymysql

    try:
        connection = pymysql.connect(
            host=MYSQL_HOST,
            port=MYSQL_PORT,
            user="root",
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=5,
            init_command="SET time_zone = '+00:00'",
        )
    except pymysql.OperationalError as exc:
        _unreachable(f"MariaDB on {MYSQL_HOST}:{MYSQL_PORT}", exc)
        raise
    return connection


@pytest.fixture
def mysql_database() -> Iterator[str]:
    """A throwaway MariaDB database; yields its URL and drops it afterwards."""
    name = f"sluice_t_{uuid.uuid4().hex[:12]}"
    admin = mysql_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
