"""A SQLite database's tables as `sluice discover` lists them: the schema table and its
pragmas; rows are counted (SQLite keeps no estimate unless ANALYZE was run, and a count of a
local file is quick)."""

from __future__ import annotations

import sqlite3

from sluice.connectors.discovery import CatalogColumn, CatalogTable, Kind
from sluice.connectors.sqlquote import quote_ident
from sluice.core.models import TableRef


def discover(connection: sqlite3.Connection, schema: str | None) -> list[CatalogTable]:
    prefix = f"{quote_ident(schema)}." if schema else ""
    names = connection.execute(
        f"SELECT name, type FROM {prefix}sqlite_schema WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return [_table(connection, prefix, schema, str(name), str(kind)) for name, kind in names]


def _table(
    connection: sqlite3.Connection, prefix: str, schema: str | None, name: str, kind: str
) -> CatalogTable:
    quoted = quote_ident(name)
    info = connection.execute(f"PRAGMA {prefix}table_info({quoted})").fetchall()
    # (cid, name, type, notnull, default, pk): pk is the column's place in the key, 0 if none.
    key = tuple(str(row[1]) for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    leading: set[str] = set()
    for index in connection.execute(f"PRAGMA {prefix}index_list({quoted})").fetchall():
        first = connection.execute(
            f"PRAGMA {prefix}index_info({quote_ident(str(index[1]))})"
        ).fetchall()
        leading.update(str(row[2]) for row in first if row[0] == 0)
    rowid_key = len(key) == 1 and any(
        str(row[1]) == key[0] and str(row[2]).upper() == "INTEGER" for row in info
    )
    if rowid_key:  # INTEGER PRIMARY KEY is the rowid: ranges over it need no other index
        leading.add(key[0])
    count = connection.execute(f"SELECT count(*) FROM {prefix}{quoted}").fetchone()
    return CatalogTable(
        table=TableRef(name=name, schema=schema),
        rows_estimate=int(count[0]) if count else None,
        primary_key=key,
        columns=tuple(
            CatalogColumn(str(row[1]), _kind(str(row[2])), str(row[1]) in leading) for row in info
        ),
    )


def _kind(declared: str) -> Kind:
    upper = declared.upper()
    if "DATE" in upper or "TIME" in upper:
        return "timestamp"
    return "integer" if "INT" in upper else "other"
