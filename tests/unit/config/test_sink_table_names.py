"""Which sink table names one sink loads into one table: the key `table add/edit` compares."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sluice.config.database import create_config_engine
from sluice.config.migrate import upgrade
from sluice.config.repository import ConfigRepository
from sluice.connectors.registry import dialect
from sluice.core.errors import ConflictError
from sluice.service.catalog import Catalog, TableChanges

# (sink type, one sink table name, another, whether the sink loads both into one table)
SINK_TABLES = [
    ("duckdb", "orders", "orders", True),
    ("duckdb", "orders", "ORDERS", True),  # quoted, yet matched without regard to case
    ("duckdb", "orders", "main.orders", True),  # the default schema
    ("duckdb", "sales.orders", "SALES.Orders", True),
    ("duckdb", "sales.orders", "orders", False),
    ("duckdb", "sales.orders", "archive.orders", False),
    ("duckdb", "Ärger", "ärger", False),  # only ASCII letters fold
    ("sqlite", "orders", "Main.ORDERS", True),
    ("sqlite", "orders", "orders_2", False),
    ("postgres", "orders", "Orders", False),  # quoted names keep their case
    ("postgres", "orders", "public.orders", True),
    ("postgres", "sales.orders", "orders", False),
    ("postgres", "Sales.orders", "sales.orders", False),
    ("postgres", "t" * 62 + "_a", "t" * 62 + "_b", True),  # both cut at 63 bytes
    ("postgres", "t" * 61 + "_a", "t" * 61 + "_b", False),  # 63 bytes: kept whole
    ("postgres", "é" * 32, "é" * 31 + "ü", True),  # cut on a character boundary: 62 bytes
    ("othersink", "orders", "ORDERS", True),  # unknown: a clash is assumed, not missed
]


@pytest.mark.parametrize(("sink_type", "one", "other", "same"), SINK_TABLES)
def test_sink_table_key_says_which_names_are_one_table(
    sink_type: str, one: str, other: str, same: bool
) -> None:
    table_key = dialect(sink_type).table_key  # each connector's Dialect says how it resolves
    assert (table_key(one) == table_key(other)) is same


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """A config database with a PostgreSQL destination (never connected to)."""
    engine = create_config_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    catalog = Catalog(ConfigRepository(engine))
    catalog.add_source("shop", "sqlite", '{"path": "shop.db"}')
    creds = '{"host": "127.0.0.1", "user": "app", "database": "wh"}'
    catalog.add_destination("pg", "postgres", creds)
    yield catalog
    engine.dispose()


def test_postgres_rules_decide_what_the_catalog_refuses(catalog: Catalog) -> None:
    route = TableChanges(source="shop", destination="pg")
    catalog.add_table("Orders", route)
    catalog.add_table("orders", route)  # quoted: another table in PostgreSQL
    with pytest.raises(ConflictError) as refused:
        catalog.add_table("sales.orders", replace(route, sink_table="public.orders"))
    assert str(refused.value).startswith(
        "table 'orders' loads into sink table 'orders' of destination 'pg' already"
    )
    assert str(refused.value).endswith("--sink-table NAME (such as --sink-table sales_orders)")

    # Names the sink cuts to one: no longer name would be free, so none is suggested.
    catalog.add_table("t" * 62 + "_a", route)
    with pytest.raises(ConflictError) as cut:
        catalog.add_table("t" * 62 + "_b", route)
    assert str(cut.value).endswith(f"give table {'t' * 62 + '_b'!r} its own with --sink-table NAME")
    assert [t.source_tablename for t in catalog.repo.list_tables()] == [
        "Orders",
        "orders",
        "t" * 62 + "_a",
    ]
