"""A MySQL or MariaDB database's tables as `sluice discover` lists them, from
information_schema (row estimates are InnoDB's statistics; nothing is counted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sluice.connectors.discovery import CatalogColumn, CatalogTable, Kind
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from pymysql.cursors import Cursor

_SCHEMA = "TABLE_SCHEMA = COALESCE(%s, DATABASE())"
_TABLES = (
    f"SELECT TABLE_NAME, TABLE_ROWS, TABLE_TYPE FROM information_schema.TABLES WHERE {_SCHEMA} "
    "ORDER BY TABLE_NAME"
)
_COLUMNS = (
    f"SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE {_SCHEMA} "
    "ORDER BY TABLE_NAME, ORDINAL_POSITION"
)
_INDEXES = (
    "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS "
    f"WHERE {_SCHEMA} ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
)
_TIMES = {"datetime", "timestamp", "date"}
_INTEGERS = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


def discover(cursor: Cursor, schema: str | None) -> list[CatalogTable]:
    def rows(sql: str) -> list[tuple[object, ...]]:
        cursor.execute(sql, (schema,))
        return [tuple(row) for row in cursor.fetchall()]

    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows(_COLUMNS):
        columns.setdefault(str(table), []).append((str(column), str(kind).lower()))
    keys: dict[str, list[str]] = {}
    leading: set[tuple[str, str]] = set()
    for table, index, column, position in rows(_INDEXES):
        if index == "PRIMARY":
            keys.setdefault(str(table), []).append(str(column))
        if int(str(position)) == 1:
            leading.add((str(table), str(column)))
    return [
        CatalogTable(
            table=TableRef(name=str(table), schema=schema),
            rows_estimate=None if estimate is None or kind == "VIEW" else int(str(estimate)),
            primary_key=tuple(keys.get(str(table), ())),
            columns=tuple(
                CatalogColumn(column, _kind(declared), (str(table), column) in leading)
                for column, declared in columns.get(str(table), [])
            ),
        )
        for table, estimate, kind in rows(_TABLES)
    ]


def _kind(declared: str) -> Kind:
    if declared in _TIMES:
        return "timestamp"
    return "integer" if declared in _INTEGERS else "other"
