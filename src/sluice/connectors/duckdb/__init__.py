"""DuckDB: embedded sink (the driver comes with sluice)."""

from sluice.connectors.dialect import Dialect
from sluice.connectors.spec import ConnectorSpec

# DuckDB matches names without regard to ASCII case even when quoted, like SQLite.
DIALECT = Dialect(default_schema="main", folds_ascii_case=True, max_identifier_bytes=None)

CONNECTOR = ConnectorSpec(
    dialect=DIALECT,
    type_name="duckdb",
    creds="sluice.connectors.duckdb.config:DuckDBCreds",
    example_creds='{"path": "warehouse.duckdb"}',
    sink="sluice.connectors.duckdb.sink:DuckDBSink",
)
