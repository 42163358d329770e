"""What `sluice discover` says about a source's tables, the same way for every source: each
connector reads its catalog into `CatalogTable`s, and the suggestions are made here.

An incremental key must grow with every insert or update and be cheap to range over: a
date or timestamp column named like a modification time (`updated_at`, `modified`,
`last_update`, ...) that leads an index is the best guess; then such a column without an
index (every run scans the table), then an indexed creation time or an integer primary key
(inserts only: updates are missed, and the suggestion says so). Guesses, never applied on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sluice.core.models import TableRef

Kind = Literal["timestamp", "integer", "other"]

_MODIFIED = re.compile(
    r"(updat|modif|modstamp|chang|last_?(update|edit|seen)|mtime|edited|_ts$|^ts$)", re.I
)
_CREATED = re.compile(r"(creat|insert|added|_at$|_on$|^date|time$)", re.I)


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    kind: Kind  # what sluice could range over: a date/timestamp, an integer, or neither
    indexed: bool  # the first column of some index (a range over it is an index scan)


@dataclass(frozen=True)
class CatalogTable:
    """A table as its source's catalog describes it."""

    table: TableRef
    rows_estimate: int | None  # the catalog's estimate (None: never counted or analysed)
    primary_key: tuple[str, ...]
    columns: tuple[CatalogColumn, ...]


@dataclass(frozen=True)
class Suggestion:
    column: str
    why: str


@dataclass(frozen=True)
class DiscoveredTable:
    table: TableRef
    rows_estimate: int | None
    primary_key: tuple[str, ...]
    incremental_keys: tuple[Suggestion, ...]  # best first; empty: load it full

    def as_json(self) -> dict[str, object]:
        return {
            "table": str(self.table),
            "rows_estimate": self.rows_estimate,
            "primary_key": list(self.primary_key),
            "incremental_keys": [{"column": s.column, "why": s.why} for s in self.incremental_keys],
        }


def discovered(table: CatalogTable) -> DiscoveredTable:
    return DiscoveredTable(
        table=table.table,
        rows_estimate=table.rows_estimate,
        primary_key=table.primary_key,
        incremental_keys=tuple(suggest_keys(table)),
    )


def suggest_keys(table: CatalogTable) -> list[Suggestion]:
    """Candidate incremental keys of `table`, best first."""
    ranked: list[tuple[int, int, Suggestion]] = []
    for position, column in enumerate(table.columns):
        rank, why = _rank(column, table.primary_key)
        if rank is not None:
            ranked.append((rank, position, Suggestion(column.name, why)))
    return [suggestion for _, _, suggestion in sorted(ranked, key=lambda r: (r[0], r[1]))]


def _rank(column: CatalogColumn, primary_key: tuple[str, ...]) -> tuple[int | None, str]:
    index = "indexed" if column.indexed else "not indexed: each run scans the table"
    if column.kind == "timestamp" and _MODIFIED.search(column.name):
        return (0 if column.indexed else 1), f"a modification time, {index}"
    if column.kind == "timestamp" and column.indexed and _CREATED.search(column.name):
        return 2, "an indexed creation time: catches inserts, not updates"
    if column.kind == "integer" and primary_key == (column.name,):
        return 3, "the integer primary key: catches inserts, not updates"
    return None, ""
