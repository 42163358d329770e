"""The message for a PostgreSQL table that is not there: where it was looked for, tables of
that name in another case or schema, and the tables there with a "did you mean"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sluice.connectors.missing import missing_table as shared_message
from sluice.connectors.postgres.connection import fetch
from sluice.core.errors import TerminalError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Cursor

RELKINDS = "('r', 'p', 'v', 'm', 'f')"  # tables, partitioned tables, views, matviews, foreign


def missing_table(cursor: Cursor, table: TableRef, location: str) -> TerminalError:
    """One line saying where the table was looked for, tables of that name elsewhere, and
    the tables there with a 'did you mean'."""
    params: tuple[str, ...] = ()
    if table.schema:
        where, scope, params = f"schema {table.schema!r}", "n.nspname = $1", (table.schema,)
    else:
        schemas = fetch(cursor, "SELECT array_to_string(current_schemas(false), ', ')")
        where = f"the search_path schemas ({schemas[0][0] or 'none'})"
        scope = "n.nspname = ANY(current_schemas(false))"
    listing = (
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
        f"ON n.oid = c.relnamespace WHERE c.relkind IN {RELKINDS} AND "
    )
    similar = fetch(
        cursor, listing + "lower(c.relname) = lower($1) ORDER BY 1, 2 LIMIT 5", (table.name,)
    )
    # All of them, for the suggestion; only the first 20 are listed.
    there = fetch(cursor, listing + scope + " ORDER BY 2", params)
    message = f"table {str(table)!r} does not exist in PostgreSQL {location} (looked in {where})"
    if similar:
        others = ", ".join(f"{schema}.{name}" for schema, name in similar)
        message += f"; tables of that name in any case and schema: {others}"
    return shared_message(message, table.name, [str(row[1]) for row in there])
