"""PostgreSQL: source and sink, through ADBC (`pip install 'sluice[postgres]'`)."""

from sluice.connectors.spec import ConnectorSpec

CONNECTOR = ConnectorSpec(
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
