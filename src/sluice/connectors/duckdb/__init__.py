"""DuckDB: embedded sink (the driver comes with sluice)."""

from sluice.connectors.spec import ConnectorSpec

CONNECTOR = ConnectorSpec(
    type_name="duckdb",
    creds="sluice.connectors.duckdb.config:DuckDBCreds",
    example_creds='{"path": "warehouse.duckdb"}',
    sink="sluice.connectors.duckdb.sink:DuckDBSink",
)
