"""SQLite: source and embedded sink (the driver comes with sluice)."""

from sluice.connectors.dialect import Dialect
from sluice.connectors.spec import ConnectorSpec

# SQLite matches names without regard to ASCII case even when quoted (other letters keep
# their case), and calls its default schema 'main'; attached databases aside, no schemas.
DIALECT = Dialect(
    default_schema="main", folds_ascii_case=True, max_identifier_bytes=None, supports_schemas=False
)

CONNECTOR = ConnectorSpec(
    dialect=DIALECT,
    type_name="sqlite",
    creds="sluice.connectors.sqlite.config:SQLiteCreds",
    example_creds='{"path": "data/shop.db"}',
    source="sluice.connectors.sqlite.source:SQLiteSource",
    sink="sluice.connectors.sqlite.sink:SQLiteSink",
)
