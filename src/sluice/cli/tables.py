"""`sluice table ...`: the rows of pipeline_config."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.markup import escape

from sluice.cli.output import checked, console, emit_json, hop_option, table, warn, when
from sluice.cli.state import STATE
from sluice.core.future import DEFAULT_TOLERANCE
from sluice.core.models import Hop
from sluice.core.schema_contract import describe_contract

if TYPE_CHECKING:
    from sluice.config.records import TableConfig
    from sluice.service.catalog import Catalog, TableChanges

app = typer.Typer(help="Manage the tables to replicate (pipeline_config).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
SOURCE_HELP = "Source connection name."
DESTINATION_HELP = "Destination name."
# The options `table add` and `table edit` share, each named as the TableChanges field it fills.
# Declared once and given to both commands by _table_options, so the two cannot drift apart.
_TABLE_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("sink_table", Annotated[str | None, typer.Option("--sink-table", help="Table in the sink.")]),
    ("load", Annotated[str | None, typer.Option("--load", help="Hop 1: full | incremental.")]),
    ("key", Annotated[str | None, typer.Option("--key", help="Hop 1 incremental key column.")]),
    (
        "every",
        Annotated[
            str | None,
            typer.Option("--every", help="Hop 1 interval: minutes, or 15m, 1h, 1d."),
        ],
    ),
    (
        "sink_load",
        Annotated[str | None, typer.Option("--sink-load", help="Hop 2: full | incremental.")],
    ),
    (
        "sink_key",
        Annotated[
            str | None, typer.Option("--sink-key", help="Hop 2 key column (default: lake batch).")
        ],
    ),
    (
        "sink_every",
        Annotated[
            str | None,
            typer.Option("--sink-every", help="Hop 2 interval: minutes, or 15m, 1h, 1d."),
        ],
    ),
    (
        "primary_key",
        Annotated[str | None, typer.Option("--primary-key", help="COL[,COL...] to merge on.")],
    ),
    ("pipeline", Annotated[str | None, typer.Option("--pipeline", help="Stage template name.")]),
    (
        "lookback",
        Annotated[
            str | None,
            typer.Option(
                "--lookback", help="Hop 1: re-read this far behind the watermark (15m, 2h, 100)."
            ),
        ],
    ),
    (
        "null_key_fallback",
        Annotated[
            str | None,
            typer.Option("--null-key-fallback", help="Hop 1: column used where the key is NULL."),
        ],
    ),
    (
        "lake_keep_full",
        # Text, not int: the shared validation gives the message (and '' restores the default).
        Annotated[
            str | None,
            typer.Option(
                "--lake-keep-full",
                metavar="N",
                help="Full snapshots the lake keeps for this table (N >= 1; '' = default, 3).",
            ),
        ],
    ),
    (
        "future_tolerance",
        Annotated[
            str | None,
            typer.Option(
                "--future-tolerance",
                help="Hop 1: how far ahead of the clock a time key may be (30s, 15m, 1h, 2d; "
                "'' = default, 1h).",
            ),
        ],
    ),
    (
        "future_policy",
        Annotated[
            str | None,
            typer.Option(
                "--future-policy",
                help="Hop 1: rows beyond it fail the run (fail, default) or wait (hold).",
            ),
        ],
    ),
    (
        "schema_contract",
        Annotated[
            str | None,
            typer.Option(
                "--schema-contract",
                metavar="KIND=SETTING,...",
                help="Hop 1 on source column changes: added=evolve|freeze|discard, "
                "dropped=freeze|evolve, widened=evolve|freeze ('' = the defaults; see "
                "docs/schema-drift.md).",
            ),
        ],
    ),
    (
        "hop_order",
        Annotated[
            str | None,
            typer.Option(
                "--hop-order",
                help="after (default: hop 2 waits for hop 1, then loads its batch at once) or "
                "independent (each hop on its own interval).",
            ),
        ],
    ),
    (
        "zero_dates",
        Annotated[
            str | None,
            typer.Option(
                "--zero-dates",
                help="Hop 1, MySQL: a zero date ('0000-00-00') fails the run (fail, default) "
                "or is read as NULL and counted in the run's warnings (null).",
            ),
        ],
    ),
    (
        "nested",
        Annotated[
            str | None,
            typer.Option(
                "--nested",
                help="Hop 1, MongoDB: nested documents and arrays become structs and lists "
                "(struct, default) or JSON text (json).",
            ),
        ],
    ),
    (
        "partitions",
        Annotated[
            int | None,
            typer.Option(
                "--partitions",
                help="Hop 1, full loads: split the read into N ranges read in parallel (on "
                "workers with SLUICE_EXECUTOR=celery); 0 chooses by the table's size.",
            ),
        ],
    ),
    (
        "fresh_within",
        Annotated[
            str | None,
            typer.Option(
                "--fresh-within",
                help="Hop 1 is stale when it has not succeeded for this long (90m, 2h, 1d; "
                "'' = default, twice its schedule).",
            ),
        ],
    ),
    (
        "sink_fresh_within",
        Annotated[
            str | None,
            typer.Option(
                "--sink-fresh-within",
                help="Hop 2's freshness target, likewise.",
            ),
        ],
    ),
    (
        "partition_by",
        Annotated[
            str | None,
            typer.Option(
                "--partition-by",
                metavar="COLUMN[:UNIT]",
                help="BigQuery: partition the sink table by a DATE/DATETIME/TIMESTAMP column "
                "(COLUMN, COLUMN:hour|day|month|year) or an integer one "
                "(COLUMN:START:END:INTERVAL); applied when the table is (re)built; '' = none.",
            ),
        ],
    ),
    (
        "cluster_by",
        Annotated[
            str | None,
            typer.Option(
                "--cluster-by",
                metavar="A,B",
                help="BigQuery: cluster the sink table by up to four columns; '' = none.",
            ),
        ],
    ),
)
NoCheckOpt = Annotated[
    bool,
    typer.Option(
        "--no-check",
        help="Store without looking at the source table, its columns and the destination.",
    ),
]
HopOpt = Annotated[
    str, typer.Option("--hop", help="Which hop: source_to_dl, dl_to_sink or all (default).")
]


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
            "fresh_within": c.fresh_within,
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
        "future_tolerance": t.future_tolerance or DEFAULT_TOLERANCE,
        "future_policy": t.future_policy or "fail",
        "future_held": t.future_held,
        "hop_order": t.hop_order,
        "schema_contract": describe_contract(t.schema_contract),
        "zero_dates": t.zero_dates,
        "nested": t.nested,
        "partitions": t.partitions,
        "sink_partition_by": t.sink_partition_by,
        "sink_cluster_by": list(t.sink_cluster_by),
        "source_to_dl": hop(Hop.SOURCE_TO_DL),
        "dl_to_sink": hop(Hop.DL_TO_SINK),
    }


def _catalog() -> Catalog:
    from sluice.service.catalog import Catalog

    return Catalog(STATE.services().repo)


def _table_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the shared options to a command that takes them as **options, before --json.

    Typer reads a command's parameters from its signature, so the signature is what is
    extended; Typer then calls the command with every option by name.
    """
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    shared = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=a)
        for name, a in _TABLE_OPTIONS
    ]
    parameters = [p for p in own if p.name != "as_json"] + shared
    parameters += [p for p in own if p.name == "as_json"]
    cast(Any, command).__signature__ = signature.replace(parameters=parameters)
    return command


def _changes(options: dict[str, Any]) -> TableChanges:
    from sluice.service.catalog import TableChanges

    primary_key = options.pop("primary_key")
    return TableChanges(
        primary_key=None if primary_key is None else primary_key.split(","), **options
    )


@app.command("add")
@_table_options
def add(
    source_tablename: Annotated[
        str, typer.Argument(help="Table in the source, e.g. sales.Orders.")
    ],
    source: Annotated[str, typer.Option("--source", help=SOURCE_HELP)],
    destination: Annotated[str, typer.Option("--destination", help=DESTINATION_HELP)],
    no_check: NoCheckOpt = False,
    as_json: JsonOpt = False,
    **options: Any,
) -> None:
    """Configure a table for replication (its source table, named columns and destination
    are checked first unless --no-check)."""
    changes = _changes({**options, "source": source, "destination": destination})
    found: list[str] = []
    config = _catalog().add_table(source_tablename, changes, check=not no_check, found=found)
    checked(found)
    if as_json:
        emit_json(describe(config))
    else:
        console.print(
            f"table [bold]{escape(config.source_tablename)}[/] added -> "
            f"{escape(config.sink_tablename)}"
        )


@app.command("edit")
@_table_options
def edit(
    source_tablename: str,
    source: Annotated[str | None, typer.Option("--source", help=SOURCE_HELP)] = None,
    destination: Annotated[str | None, typer.Option("--destination", help=DESTINATION_HELP)] = None,
    no_check: NoCheckOpt = False,
    as_json: JsonOpt = False,
    **options: Any,
) -> None:
    """Change a table's settings (only the options given; '' clears a text option). A new
    source, column or destination is checked first unless --no-check."""
    changes = _changes({**options, "source": source, "destination": destination})
    found: list[str] = []
    config = _catalog().edit_table(source_tablename, changes, check=not no_check, found=found)
    checked(found)
    if as_json:
        emit_json(describe(config))
    else:
        console.print(f"table [bold]{escape(config.source_tablename)}[/] updated")


def _warn_of_shared_sink_tables(tables: list[TableConfig], only: str | None = None) -> None:
    """On stderr, so that --json output stays as it is."""
    from sluice.service.catalog import shared_sink_tables

    for group in shared_sink_tables(tables):
        names = [t.source_tablename for t in group]
        if only is not None and only not in names:
            continue
        warn(
            f"tables {', '.join(repr(n) for n in names)} load into one sink table "
            f"({group[0].sink_tablename!r}) of destination {group[0].destination_name!r}, so "
            "their loads can mix rows and load state: give all but one their own with "
            "`sluice table edit NAME --sink-table NEW`"
        )


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the configured tables with both hops' state."""
    tables = STATE.services().repo.list_tables()
    _warn_of_shared_sink_tables(tables)
    warn_of_relative_paths(tables)
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
    repo = STATE.services().repo
    shown = describe(repo.get_table(source_tablename))
    _warn_of_shared_sink_tables(repo.list_tables(), only=source_tablename)
    if as_json:
        emit_json(shown)
        return
    for key, value in shown.items():
        if isinstance(value, dict):  # a hop: its settings indented under it
            console.print(f"[bold]{key}[/]:", highlight=False)
            for inner, setting in value.items():
                console.print(f"  {inner}: {escape(readable(setting))}", highlight=False)
        else:
            console.print(f"[bold]{key}[/]: {escape(readable(value))}", highlight=False)


def readable(value: Any) -> str:
    """A value as a person reads it: '-' for none, a list comma-separated, yes/no."""
    if value is None or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


@app.command("pause")
def pause(source_tablename: str, hop_text: HopOpt = "all") -> None:
    """Stop scheduling a table's hop(s)."""
    hop = hop_option(hop_text)
    _catalog().set_active(source_tablename, hop, False)
    console.print(f"table [bold]{source_tablename}[/] paused ({hop.value})")


@app.command("resume")
def resume(source_tablename: str, hop_text: HopOpt = "all") -> None:
    """Schedule a table's hop(s) again."""
    hop = hop_option(hop_text)
    _catalog().set_active(source_tablename, hop, True)
    console.print(f"table [bold]{source_tablename}[/] resumed ({hop.value})")


@app.command("reload")
def reload(
    source_tablename: str,
    hop_text: HopOpt = "all",
    as_json: JsonOpt = False,
) -> None:
    """Start the table over: a fresh full read into the lake, swapped into the sink whole.

    --hop source_to_dl reads afresh only (the next hop 2 swaps it in); --hop dl_to_sink swaps
    the sink table in whole from what the lake holds. Exit 0 only if the run succeeded.
    """
    from sluice.cli.runs import follow_run, make_engine
    from sluice.core.models import TriggeredBy

    hop = hop_option(hop_text)
    engine = make_engine()
    run = engine.create(source_tablename, hop, TriggeredBy.MANUAL, reload=True)
    follow_run(engine, run, as_json)


@app.command("remove")
def remove(source_tablename: str) -> None:
    """Remove a table's configuration and run history (the lake and sink are left as they are)."""
    STATE.services().repo.remove_table(source_tablename)
    console.print(f"table [bold]{source_tablename}[/] removed")


def warn_of_relative_paths(tables: list[TableConfig]) -> None:
    """Connections stored by an older version with a relative file path, with the fix."""
    from sluice.config.repository import DESTINATIONS, SOURCES
    from sluice.core.errors import SluiceError
    from sluice.service.paths import relative_paths

    repo = STATE.services().repo
    used = {(SOURCES, t.source_name) for t in tables} | {
        (DESTINATIONS, t.destination_name) for t in tables
    }
    for kind, name in sorted(used, key=lambda pair: (pair[0].label, str(pair[1]))):
        if name is None:
            continue
        try:
            record = repo.get_connection(kind, name)
        except SluiceError:  # sealed with another key: `source list` says so
            continue
        for field, value in relative_paths(record.type, record.creds):
            warn(
                f"{kind.label} {name!r} has a relative {field} {value!r}, read from whatever "
                f"directory a run starts in: fix with `sluice {kind.label} edit {name} "
                f"--set {field}=/absolute/path/to/{os.path.basename(value)}`"
            )
