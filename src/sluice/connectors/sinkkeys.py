"""A sink table's primary key follows the configured one, inside the load's transaction.

A table created under `--primary-key id` keeps PRIMARY KEY (id) in the sink; after the key is
corrected to (id, line), merging rows that share an id would fail on the old constraint. So a
merge or append whose configured key differs from the live table's rebuilds the table under the
new key in the same transaction that then applies the rows: readers see the old table, or the
new one with the new rows, never a table without its rows. Rows already there that are not
unique under the new key fail the load with the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sluice.connectors.base import LoadRequest
from sluice.core.errors import TerminalError
from sluice.core.models import LoadMode

if TYPE_CHECKING:
    from sluice.connectors.sqlsink import SqlSinkBase


def rekey(sink: SqlSinkBase, request: LoadRequest) -> None:
    """Called inside the load's transaction, after the live table exists and has every column."""
    if request.mode is LoadMode.REPLACE:
        return  # a replace builds the table under the configured key anyway
    live = sink.primary_key_of(request.table)
    if live is None or live == request.primary_key:
        return
    types = sink.table_columns(request.table) or {}
    columns = list(types)
    fresh = sink.sibling(request.table, "__sluice_new_", request.run_id)
    cols = ", ".join(sink.q(c) for c in columns)
    sink.execute(f"DROP TABLE IF EXISTS {sink.qualified(fresh)}")
    sink.execute(sink._create_table_sql(fresh, columns, types, request.primary_key))
    try:
        sink.execute(
            f"INSERT INTO {sink.qualified(fresh)} ({cols}) "
            f"SELECT {cols} FROM {sink.qualified(request.table)}"
        )
    except TerminalError as exc:
        wanted = ", ".join(request.primary_key)
        raise TerminalError(
            f"sink table {request.table} holds rows that are not unique (or NULL) on the new "
            f"primary key ({wanted}), so its key cannot change from ({', '.join(live)}): load "
            "the table in full once (`sluice table edit TABLE --sink-load full`, run, then set "
            f"it back); nothing was changed ({exc})"
        ) from exc
    sink.before_swap(request.table, fresh)
    sink.execute(f"DROP TABLE {sink.qualified(request.table)}")
    sink.execute(f"ALTER TABLE {sink.qualified(fresh)} RENAME TO {sink.q(request.table.name)}")
