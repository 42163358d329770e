"""The schemas a PostgreSQL sink's tables and types live in: the sink table's, made when a
qualified one does not exist yet."""

from __future__ import annotations

from sluice.connectors.adbc_sink import AdbcSinkBase
from sluice.connectors.postgres.catalog_sql import SCHEMA_SQL
from sluice.connectors.sqlquote import quote_ident
from sluice.core.models import TableRef


class PostgresNamespaces(AdbcSinkBase):
    """The namespace helpers every step of the PostgreSQL sink shares."""

    def _namespace(self, table: TableRef) -> str:
        return table.schema or str(self.query("SELECT current_schema()")[0][0])

    def _ensure_schema(self, schema: str | None) -> None:
        """Create the schema of a schema-qualified table when it does not exist yet.

        Looked up first, and never for an unqualified table (its schema is the default one):
        CREATE SCHEMA checks CREATE on the database before IF NOT EXISTS looks for the
        schema, and a least-privilege loader has CREATE only on the schema it loads into.
        """
        if schema and not self.query(SCHEMA_SQL, (schema,)):
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
