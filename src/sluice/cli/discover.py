"""`sluice discover SOURCE`: the source's tables, row estimates, primary keys and suggested
incremental keys, to choose what to add."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from sluice.cli.output import console, emit_json, table
from sluice.cli.state import STATE


def discover_command(
    source: Annotated[str, typer.Argument(help="A source's name (`sluice source list`).")],
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="Only this schema (PostgreSQL) or database (MySQL)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List a source's tables: row estimates, primary keys, suggested incremental keys."""
    from sluice.service.catalog import Catalog

    found = Catalog(STATE.services().repo).discover_source(source, schema)
    if as_json:
        emit_json([entry.as_json() for entry in found])
        return
    if not found:
        console.print(
            f"source {escape(source)} has no tables{' in ' + escape(schema) if schema else ''}"
        )
        return
    table(
        f"tables of source {source}",
        ["table", "rows (estimate)", "primary key", "suggested incremental key"],
        [
            (
                str(entry.table),
                "?" if entry.rows_estimate is None else f"{entry.rows_estimate:,}",
                ", ".join(entry.primary_key) or "(none)",
                (
                    f"{entry.incremental_keys[0].column} ({entry.incremental_keys[0].why})"
                    if entry.incremental_keys
                    else "(none: load it full)"
                ),
            )
            for entry in found
        ],
    )
