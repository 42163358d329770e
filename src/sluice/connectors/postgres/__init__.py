"""PostgreSQL: source and sink, through ADBC (`pip install 'sluice[postgres]'`)."""

from sluice.connectors.dialect import Dialect
from sluice.connectors.spec import ConnectorSpec

# PostgreSQL keeps a quoted name exactly, cuts it at 63 bytes (NAMEDATALEN - 1) and puts an
# unqualified one in current_schema(): 'public' unless a search_path says otherwise, which
# sluice cannot see when it checks names, so the default is assumed. libpq numbers parameters.
DIALECT = Dialect(
    default_schema="public", folds_ascii_case=False, max_identifier_bytes=63, param_marker="${}"
)

CONNECTOR = ConnectorSpec(
    dialect=DIALECT,
    type_name="postgres",
    creds="sluice.connectors.postgres.config:PostgresCreds",
    example_creds='{"host": "db.example.com", "port": 5432, "user": "app", '
    '"password": "...", "database": "shop"}',
    source="sluice.connectors.postgres.source:PostgresSource",
    sink="sluice.connectors.postgres.sink:PostgresSink",
    extra="postgres",
    driver_modules=("adbc_driver_postgresql",),
    metadata_merge="sluice.connectors.postgres.types:widest_metadata",
)
