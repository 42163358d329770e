"""Reading a sluice lake as Iceberg with no sluice code: pyiceberg's SQL catalog on the config
database, as a user's own script (or Spark's or Trino's JDBC catalog) would open it."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table


def iceberg_s3_properties(endpoint: str) -> dict[str, str]:
    """The FileIO settings for the moto server (tests/s3.py's keys), pyiceberg's names."""
    return {
        "s3.endpoint": endpoint,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
        "s3.region": "us-east-1",
    }


def iceberg_table(
    config_db: Path,
    warehouse: str,
    s3_endpoint: str | None = None,
    name: str | tuple[str, str] = "Track",
) -> Table:
    """The lake table `name` of source `chinook` (or `(source, name)` given as a tuple)."""
    extra = iceberg_s3_properties(s3_endpoint) if s3_endpoint else {}
    catalog = SqlCatalog(
        "sluice",
        uri=f"sqlite:///{config_db}",
        warehouse=warehouse,
        init_catalog_tables="false",
        **extra,
    )
    return catalog.load_table(name if isinstance(name, tuple) else ("chinook", name))


def sluice_types(part: Path) -> dict[str, str]:
    """Each column's own (sluice) type in a lake part: its stored type, or the type the
    field's metadata names where the lake stores it as another (lake/physical.py)."""
    import pyarrow.parquet as pq

    from sluice.lake.physical import LAKE_TYPE_KEY

    return {
        field.name: (field.metadata or {}).get(LAKE_TYPE_KEY, str(field.type).encode()).decode()
        for field in pq.read_schema(part)
    }
