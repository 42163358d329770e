"""`sluice table ...`: the rows of pipeline_config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sluice.cli.output import console, emit_json, table, when
from sluice.cli.state import STATE
from sluice.core.models import Hop, HopChoice

if TYPE_CHECKING:
    from sluice.config.catalog import Catalog, TableChanges
    from sluice.config.records import TableConfig

app = typer.Typer(help="Manage the tables to replicate (pipeline_config).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
LookbackOpt = Annotated[
    str | None,
    typer.Option("--lookback", help="Hop 1: re-read this far behind the watermark (15m, 2h, 100)."),
]
FallbackOpt = Annotated[
    str | None,
    typer.Option("--null-key-fallback", help="Hop 1: column used where the key is NULL."),
]
# Text, not int: the shared validation gives the message (and '' restores the default).
KeepFullOpt = Annotated[
    str | None,
    typer.Option(
        "--lake-keep-full",
        metavar="N",
        help="Full snapshots the lake keeps for this table (N >= 1; '' = default, 3).",
    ),
]
HopOpt = Annotated[HopChoice, typer.Option("--hop", help="Which hop; both by default.")]


def describe(t: TableConfig) -> dict[str, Any]:
    def hop(h: Hop) -> dict[str, Any]:
        c = t.hop(h)
        return {
            "schedule_minutes": c.schedule_minutes,
            "load_type": c.load_type.value,
            "is_active": c.is_active,
            "incremental_key": c.incremental_key,
            "last_incremental_value": c.last_incremental_value,
            "last_run_at": c.last_run_at.isoformat() if c.last_run_at else None,
            "last_run_status": c.last_run_status,
        }

    return {
        "source_tablename": t.source_tablename,
        "sink_tablename": t.sink_tablename,
        "source_name": t.source_name,
        "source_type": t.source_type,
        "destination_name": t.destination_name,
        "sink_type": t.sink_type,
        "primary_key": list(t.primary_key),
        "pipeline_name": t.pipeline_name,
        "lookback": t.lookback,
        "null_key_fallback": t.null_key_fallback,
        "lake_keep_full": t.lake_keep_full,
        "source_to_dl": hop(Hop.SOURCE_TO_DL),
        "dl_to_sink": hop(Hop.DL_TO_SINK),
    }


def _catalog() -> Catalog:
    from sluice.config.catalog import Catalog

    return Catalog(STATE.services().repo)


def _changes(**options: Any) -> TableChanges:
    from sluice.config.catalog import TableChanges

    primary_key = options.pop("primary_key")
    return TableChanges(
        primary_key=None if primary_key is None else primary_key.split(","), **options
    )


@app.command("add")
def add(
    source_tablename: Annotated[
        str, typer.Argument(help="Table in the source, e.g. sales.Orders.")
    ],
    source: Annotated[str, typer.Option("--source", help="Source connection name.")],
    destination: Annotated[str, typer.Option("--destination", help="Destination name.")],
    sink_table: Annotated[
        str | None, typer.Option("--sink-table", help="Table in the sink.")
    ] = None,
    load: Annotated[str | None, typer.Option("--load", help="Hop 1: full | incremental.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Hop 1 incremental key column.")] = None,
    every: Annotated[int | None, typer.Option("--every", help="Hop 1 interval, minutes.")] = None,
    sink_load: Annotated[
        str | None, typer.Option("--sink-load", help="Hop 2: full | incremental.")
    ] = None,
    sink_key: Annotated[
        str | None, typer.Option("--sink-key", help="Hop 2 key column (default: lake batch).")
    ] = None,
    sink_every: Annotated[
        int | None, typer.Option("--sink-every", help="Hop 2 interval, minutes.")
    ] = None,
    primary_key: Annotated[
        str | None, typer.Option("--primary-key", help="COL[,COL...] to merge on.")
    ] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Stage template name.")] = None,
    lookback: LookbackOpt = None,
    null_key_fallback: FallbackOpt = None,
    lake_keep_full: KeepFullOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Configure a table for replication."""
    changes = _changes(
        source=source,
        destination=destination,
        sink_table=sink_table,
        load=load,
        key=key,
        every=every,
        sink_load=sink_load,
        sink_key=sink_key,
        sink_every=sink_every,
        primary_key=primary_key,
        pipeline=pipeline,
        lookback=lookback,
        null_key_fallback=null_key_fallback,
        lake_keep_full=lake_keep_full,
    )
    config = _catalog().add_table(source_tablename, changes)
    if as_json:
        emit_json(describe(config))
    else:
        console.print(f"table [bold]{config.source_tablename}[/] added -> {config.sink_tablename}")


@app.command("edit")
def edit(
    source_tablename: str,
    source: Annotated[str | None, typer.Option("--source")] = None,
    destination: Annotated[str | None, typer.Option("--destination")] = None,
    sink_table: Annotated[str | None, typer.Option("--sink-table")] = None,
    load: Annotated[str | None, typer.Option("--load")] = None,
    key: Annotated[str | None, typer.Option("--key")] = None,
    every: Annotated[int | None, typer.Option("--every")] = None,
    sink_load: Annotated[str | None, typer.Option("--sink-load")] = None,
    sink_key: Annotated[str | None, typer.Option("--sink-key")] = None,
    sink_every: Annotated[int | None, typer.Option("--sink-every")] = None,
    primary_key: Annotated[str | None, typer.Option("--primary-key")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline")] = None,
    lookback: LookbackOpt = None,
    null_key_fallback: FallbackOpt = None,
    lake_keep_full: KeepFullOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a table's settings (only the options given; '' clears a text option)."""
    changes = _changes(
        source=source,
        destination=destination,
        sink_table=sink_table,
        load=load,
        key=key,
        every=every,
        sink_load=sink_load,
        sink_key=sink_key,
        sink_every=sink_every,
        primary_key=primary_key,
        pipeline=pipeline,
        lookback=lookback,
        null_key_fallback=null_key_fallback,
        lake_keep_full=lake_keep_full,
    )
    config = _catalog().edit_table(source_tablename, changes)
    if as_json:
        emit_json(describe(config))
    else:
        console.print(f"table [bold]{config.source_tablename}[/] updated")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the configured tables with both hops' state."""
    tables = STATE.services().repo.list_tables()
    if as_json:
        emit_json([describe(t) for t in tables])
        return
    rows = []
    for t in tables:
        s, d = t.source_to_dl, t.dl_to_sink
        rows.append(
            (
                t.source_tablename,
                f"{t.source_name} -> {t.destination_name}",
                t.sink_tablename,
                f"{s.load_type.value}/{d.load_type.value}",
                f"{'on' if s.is_active else 'paused'}/{'on' if d.is_active else 'paused'}",
                f"{s.last_run_status or '-'} {when(s.last_run_at)}",
                f"{d.last_run_status or '-'} {when(d.last_run_at)}",
                s.last_incremental_value or "-",
            )
        )
    table(
        "tables",
        ["table", "route", "sink table", "load", "active", "hop 1 last", "hop 2 last", "watermark"],
        rows,
    )


@app.command("show")
def show(source_tablename: str, as_json: JsonOpt = False) -> None:
    """Show one table's full configuration."""
    shown = describe(STATE.services().repo.get_table(source_tablename))
    if as_json:
        emit_json(shown)
        return
    for key, value in shown.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command("pause")
def pause(source_tablename: str, hop: HopOpt = HopChoice.ALL) -> None:
    """Stop scheduling a table's hop(s)."""
    _catalog().set_active(source_tablename, hop, False)
    console.print(f"table [bold]{source_tablename}[/] paused ({hop.value})")


@app.command("resume")
def resume(source_tablename: str, hop: HopOpt = HopChoice.ALL) -> None:
    """Schedule a table's hop(s) again."""
    _catalog().set_active(source_tablename, hop, True)
    console.print(f"table [bold]{source_tablename}[/] resumed ({hop.value})")


@app.command("remove")
def remove(source_tablename: str) -> None:
    """Remove a table's configuration and run history (the lake and sink are left as they are)."""
    STATE.services().repo.remove_table(source_tablename)
    console.print(f"table [bold]{source_tablename}[/] removed")
