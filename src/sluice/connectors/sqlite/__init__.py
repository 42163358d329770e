"""SQLite: source and embedded sink (the driver comes with sluice)."""

from sluice.connectors.spec import ConnectorSpec

CONNECTOR = ConnectorSpec(
    type_name="sqlite",
    creds="sluice.connectors.sqlite.config:SQLiteCreds",
    example_creds='{"path": "data/shop.db"}',
    source="sluice.connectors.sqlite.source:SQLiteSource",
    sink="sluice.connectors.sqlite.sink:SQLiteSink",
)
