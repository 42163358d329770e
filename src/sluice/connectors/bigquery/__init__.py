"""BigQuery: sink, loading Parquet with load jobs (`pip install 'sluice[bigquery]'`)."""

from sluice.connectors.dialect import Dialect
from sluice.connectors.spec import ConnectorSpec

# BigQuery keeps a table's name exactly (case and all) and puts an unqualified name in the
# creds' dataset; a table name is at most 1,024 bytes. DDL on tables commits on its own and
# cannot run inside a transaction (sink.py orders its steps for it). Identifiers are quoted
# with backticks, inside which a backslash escapes.
DIALECT = Dialect(
    default_schema="",
    folds_ascii_case=False,
    max_identifier_bytes=1024,
    transactional_ddl=False,
    identifier_quote="`",
    table_layout=True,
)

CONNECTOR = ConnectorSpec(
    dialect=DIALECT,
    type_name="bigquery",
    creds="sluice.connectors.bigquery.config:BigQueryCreds",
    example_creds='{"project": "my-project", "dataset": "raw", "location": "EU", '
    '"service_account": "{\\"type\\": \\"service_account\\", ...}"}',
    sink="sluice.connectors.bigquery.sink:BigQuerySink",
    extra="bigquery",
    driver_modules=("google.cloud.bigquery",),
)
