"""Runs inside the emulator's own virtualenv (.venv-bqemu, see the Makefile): bqemulator,
made more faithful to BigQuery where the sink would otherwise trip, then started.

- `ALTER TABLE ... ADD COLUMN` (and SET DATA TYPE) refresh the table's schema in the
  emulator's catalog, as BigQuery's INFORMATION_SCHEMA.COLUMNS and tables.get show the
  column at once (the emulator added it to the data but never to the catalog).

Everything else is bqemulator as released; what it cannot show is listed in
docs/connectors/bigquery.md. Usage: python bigquery_emulator_server.py [bqemulator start
options]
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


def _patch() -> None:
    import sqlglot
    from sqlglot import exp

    # Imported by name: bqemulator is installed in the emulator's virtualenv only.
    ddl_sync: Any = importlib.import_module("bqemulator.catalog.ddl_sync")
    executor: Any = importlib.import_module("bqemulator.jobs.executor")
    interpreter: Any = importlib.import_module("bqemulator.scripting.interpreter")

    original = ddl_sync.sync_created_table
    alter = getattr(exp, "Alter", None) or getattr(exp, "AlterTable", None)

    def sync_created_or_altered_table(bq_sql: str, project_id: str, ctx: Any) -> None:
        original(bq_sql, project_id, ctx)
        try:
            tree = sqlglot.parse_one(bq_sql, read="bigquery")
        except sqlglot.errors.ParseError:  # not one statement sqlglot reads: nothing to refresh
            return
        if alter is None or not isinstance(tree, alter) or not isinstance(tree.this, exp.Table):
            return
        p_id, d_id, t_id = ddl_sync._split_target(tree.this, project_id)
        meta = ctx.catalog.get_table(p_id, d_id, t_id)
        if meta is None:
            return
        schema = ddl_sync._introspect_schema(p_id, d_id, t_id, ctx)
        ctx.catalog.update_table(meta.model_copy(update={"schema": schema}))

    executor.sync_created_table = sync_created_or_altered_table
    interpreter.sync_created_table = sync_created_or_altered_table


if __name__ == "__main__":
    _patch()
    sys.argv = ["bqemulator", "start", *sys.argv[1:]]
    importlib.import_module("bqemulator.cli").main()
