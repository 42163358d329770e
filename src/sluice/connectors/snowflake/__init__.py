"""Snowflake: sink, loading Parquet through a stage (`pip install 'sluice[snowflake]'`)."""

from sluice.connectors.dialect import Dialect
from sluice.connectors.spec import ConnectorSpec

# Snowflake keeps a quoted name exactly (an unquoted one folds to upper case; sluice always
# quotes), allows 255 characters, and puts an unqualified name in the session's schema: the
# creds' 'schema', PUBLIC unless they say otherwise. DDL commits implicitly (sink.py).
DIALECT = Dialect(
    default_schema="PUBLIC",
    folds_ascii_case=False,
    max_identifier_bytes=255,
    transactional_ddl=False,
)

CONNECTOR = ConnectorSpec(
    dialect=DIALECT,
    type_name="snowflake",
    creds="sluice.connectors.snowflake.config:SnowflakeCreds",
    example_creds='{"account": "myorg-myaccount", "user": "LOADER", "password": "...", '
    '"database": "ANALYTICS", "schema": "RAW", "warehouse": "LOAD_WH", "role": "LOADER"}',
    sink="sluice.connectors.snowflake.sink:SnowflakeSink",
    extra="snowflake",
    driver_modules=("snowflake.connector",),
)
