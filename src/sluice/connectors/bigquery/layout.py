"""A BigQuery table's partitioning and clustering, from the table's sink options.

    --partition-by COLUMN[:day|hour|month|year]   time-unit partitioning on a DATE,
                                                  DATETIME or TIMESTAMP column (day by default)
    --partition-by COLUMN:START:END:INTERVAL      integer-range partitioning on an INT64 column
    --cluster-by A,B,...                          up to four clustering columns

They shape a table when sluice creates it (first load, or a replace whose columns changed);
a live table keeps the layout it was made with until it is next rebuilt.
"""

from __future__ import annotations

from sluice.connectors.bigquery.sql import quote
from sluice.core.errors import TerminalError
from sluice.core.models import TableRef

_UNITS = ("day", "hour", "month", "year")
_TIME_TYPES = ("DATE", "DATETIME", "TIMESTAMP")
MAX_CLUSTER_COLUMNS = 4


def layout_sql(
    table: TableRef, partition_by: str | None, cluster_by: tuple[str, ...], types: dict[str, str]
) -> str:
    """The PARTITION BY and CLUSTER BY clauses of a CREATE TABLE (empty without options)."""
    parts = []
    if partition_by:
        parts.append(f"PARTITION BY {_partition(table, partition_by, types)}")
    if cluster_by:
        if len(cluster_by) > MAX_CLUSTER_COLUMNS:
            raise TerminalError(
                f"sink table {table} clusters by {len(cluster_by)} columns; BigQuery allows at "
                f"most {MAX_CLUSTER_COLUMNS}: shorten --cluster-by"
            )
        for column in cluster_by:
            _known(table, column, types, "--cluster-by")
        parts.append("CLUSTER BY " + ", ".join(quote(c) for c in cluster_by))
    return " ".join(parts)


def _partition(table: TableRef, spec: str, types: dict[str, str]) -> str:
    column, _, rest = spec.partition(":")
    kind = _known(table, column, types, "--partition-by")
    quoted = quote(column)
    pieces = rest.split(":") if rest else []
    if len(pieces) == 3:
        if kind != "INT64":
            raise _misfit(table, spec, f"an integer range needs an INT64 column, not {kind}")
        start, end, step = (int(p) for p in pieces)
        return f"RANGE_BUCKET({quoted}, GENERATE_ARRAY({start}, {end}, {step}))"
    unit = (pieces[0] if pieces else "day").lower()
    if kind not in _TIME_TYPES or len(pieces) > 1 or unit not in _UNITS:
        raise _misfit(
            table,
            spec,
            f"column {column!r} is {kind}; give a DATE, DATETIME or TIMESTAMP column with "
            "day, hour, month or year, or an INT64 column with START:END:INTERVAL",
        )
    if kind == "DATE":
        return quoted if unit == "day" else f"DATE_TRUNC({quoted}, {unit.upper()})"
    if unit == "day":
        return f"DATE({quoted})"
    return f"{kind}_TRUNC({quoted}, {unit.upper()})"


def _known(table: TableRef, column: str, types: dict[str, str], option: str) -> str:
    if column not in types:
        raise TerminalError(
            f"{option} of sink table {table} names column {column!r}, which the table does not "
            f"have (its columns: {', '.join(types)}): fix it with `sluice table edit`"
        )
    return types[column].split("(")[0]


def _misfit(table: TableRef, spec: str, why: str) -> TerminalError:
    return TerminalError(
        f"--partition-by {spec!r} of sink table {table} cannot partition it: {why}; fix it "
        "with `sluice table edit`"
    )
