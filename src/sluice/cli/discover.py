"""`sluice discover SOURCE`: the source's tables, row estimates, primary keys and suggested
incremental keys, to choose what to add."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from sluice.cli.output import console, emit_json, table
from sluice.cli.state import STATE
from sluice.core.errors import ConfigError

if TYPE_CHECKING:
    from sluice.connectors.discovery import DiscoveredTable


def discover_command(
    source: Annotated[str, typer.Argument(help="A source's name (`sluice source list`).")],
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="Only this schema (PostgreSQL) or database (MySQL)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    as_yaml: Annotated[
        bool,
        typer.Option(
            "--yaml",
            help="Print `tables:` entries for `sluice apply` (needs --destination): each "
            "table's primary key, and incremental on the suggested key where there is one.",
        ),
    ] = False,
    destination: Annotated[
        str | None, typer.Option("--destination", help="Where the --yaml entries load to.")
    ] = None,
) -> None:
    """List a source's tables: row estimates, primary keys, suggested incremental keys."""
    from sluice.service.catalog import Catalog

    if as_yaml and destination is None:
        raise ConfigError("--yaml writes entries for `sluice apply`: name where they load to with "
                          "--destination NAME")  # fmt: skip
    found = Catalog(STATE.services().repo).discover_source(source, schema)
    if as_yaml:
        typer.echo(_entries(source, str(destination), found), nl=False)
        return
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


def _entries(source: str, destination: str, found: list[DiscoveredTable]) -> str:
    """The tables as a document's `tables:` list: keyed, incremental where a key is suggested."""
    import yaml

    entries = []
    for entry in found:
        item: dict[str, object] = {
            "source_tablename": str(entry.table),
            "source": source,
            "destination": destination,
        }
        if entry.primary_key:
            item["primary_key"] = list(entry.primary_key)
        if entry.incremental_keys:
            item["load"] = "incremental"
            item["key"] = entry.incremental_keys[0].column
            if entry.primary_key:
                item["sink_load"] = "incremental"
        entries.append(item)
    return str(yaml.safe_dump({"tables": entries}, sort_keys=False, allow_unicode=True))
