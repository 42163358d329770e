"""A PostgreSQL database's tables as `sluice discover` lists them, from the catalog alone
(three queries in one snapshot; nothing is counted: row estimates are the planner's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sluice.connectors.discovery import CatalogColumn, CatalogTable, Kind
from sluice.connectors.postgres.connection import fetch
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Cursor

# Tables, partitioned tables, views, materialized views and foreign tables; not partitions
# (their parent reads them) nor the system's own schemas.
_WHERE = (
    "c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND "
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
    "AND ($1::text IS NULL OR n.nspname = $1::text)"
)
_RELATIONS = (
    "SELECT c.oid::bigint, n.nspname, c.relname, c.reltuples::bigint, c.relkind "
    f"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_WHERE} "
    "ORDER BY n.nspname, c.relname"
)
_COLUMNS = (
    "SELECT a.attrelid::bigint, a.attname, "
    "coalesce(nullif(t.typbasetype, 0), t.oid)::regtype::text "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
    f"WHERE a.attnum > 0 AND NOT a.attisdropped AND {_WHERE} ORDER BY a.attrelid, a.attnum"
)
# Each index's columns in order: the primary key's, and every index's first.
_INDEXED = (
    "SELECT i.indrelid::bigint, a.attname, k.position::bigint, i.indisprimary FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    f"WHERE (i.indisprimary OR k.position = 1) AND {_WHERE} ORDER BY i.indrelid, k.position"
)
_TIMES = {"timestamp without time zone", "timestamp with time zone", "date"}
_INTEGERS = {"smallint", "integer", "bigint"}


def discover(cursor: Cursor, schema: str | None) -> list[CatalogTable]:
    relations = fetch(cursor, _RELATIONS, (schema,))
    columns: dict[int, list[tuple[str, str]]] = {}
    for oid, name, kind in fetch(cursor, _COLUMNS, (schema,)):
        columns.setdefault(int(oid), []).append((str(name), str(kind)))
    keys: dict[int, list[str]] = {}
    leading: set[tuple[int, str]] = set()
    for oid, name, position, primary in fetch(cursor, _INDEXED, (schema,)):
        if primary:
            keys.setdefault(int(oid), []).append(str(name))
        if int(position) == 1:
            leading.add((int(oid), str(name)))
    return [
        CatalogTable(
            table=TableRef(name=str(name), schema=str(namespace)),
            rows_estimate=_estimate(estimate, kind),
            primary_key=tuple(keys.get(int(oid), ())),
            columns=tuple(
                CatalogColumn(column, _kind(declared), (int(oid), column) in leading)
                for column, declared in columns.get(int(oid), [])
            ),
        )
        for oid, namespace, name, estimate, kind in relations
    ]


def _estimate(reltuples: Any, relkind: Any) -> int | None:
    # -1: never vacuumed or analysed (PostgreSQL 14+); views hold no rows of their own.
    if str(relkind) in ("v", "f") or reltuples is None or int(reltuples) < 0:
        return None
    return int(reltuples)


def _kind(declared: str) -> Kind:
    if declared in _TIMES:
        return "timestamp"
    return "integer" if declared in _INTEGERS else "other"
