"""`sluice lake ls`, `lake gc` and `lake options`: what a table's lake holds, retention, and
where the lake is."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from sluice.cli.output import console, emit_json, table
from sluice.cli.state import STATE

if TYPE_CHECKING:
    from sluice.config.records import TableConfig
    from sluice.engine.services import Services

app = typer.Typer(help="Inspect the lake and apply retention.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _lake_table(services: Services, config: TableConfig) -> Any:
    from sluice.lake.reader import LakeTable

    return LakeTable(services.lake(), config.source_name or "_", config.source_tablename)


@app.command("ls")
def ls(source_tablename: str, as_json: JsonOpt = False) -> None:
    """List a table's committed batches: snapshot, rows, files, size, run id, key range."""
    services = STATE.services()
    lake_table = _lake_table(services, services.repo.get_table(source_tablename))
    rows = [
        {**lake_table.described(m), "path": lake_table.store.display(lake_table.batch_path(m))}
        for m in lake_table.committed()
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        f"lake: {source_tablename}",
        ["batch", "type", "snapshot", "rows", "files", "bytes", "run", "created", "key range"],
        [
            (
                r["batch"],
                r["load_type"],
                f"{r['operation']} {r['snapshot_id']}" if r["snapshot_id"] else "-",
                f"{r['rows']:,}",
                r["files"],
                f"{r['bytes']:,}",
                r["run_id"],
                r["created_at"][:19],
                f"{r['key_min'] or '-'} .. {r['key_max'] or '-'}",
            )
            for r in rows
        ],
    )


@app.command("gc")
def gc(
    source_tablename: Annotated[
        str | None, typer.Argument(help="One table; all tables when left out.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove batches the newest N full snapshots supersede (never ones hop 2 still needs).

    N is each table's `--lake-keep-full` (3 where not set).
    """
    from sluice.stages.housekeeping import collect_garbage, keep_full

    services = STATE.services()
    configs = (
        [services.repo.get_table(source_tablename)]
        if source_tablename
        else services.repo.list_tables()
    )
    report: list[dict[str, Any]] = []
    for config in configs:
        removed = collect_garbage(services.lake(), config, services.repo, dry_run=dry_run)
        report.append(
            {
                "table": config.source_tablename,
                "keep_full": keep_full(config),
                "removed": removed,
                "dry_run": dry_run,
            }
        )
    if as_json:
        emit_json(report)
        return
    verb = "would remove" if dry_run else "removed"
    for entry in report:
        console.print(
            f"{entry['table']} (keeps {entry['keep_full']} full): {verb} "
            f"{len(entry['removed'])} batch(es) " + ", ".join(str(b) for b in entry["removed"]),
            highlight=False,
        )


@app.command("compact")
def compact(
    source_tablename: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would merge.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Merge a table's newest small incremental batches (all loaded by hop 2) into one.

    The rows stay the same and in order; what hop 2 has loaded or will load does not change.
    Hop 2 does this by itself once 16 small batches have piled up. Refused while the table
    is being run.
    """
    from sluice.core.errors import ConflictError
    from sluice.stages.compaction import compact as compact_batches
    from sluice.stages.compaction import plan_compaction
    from sluice.stages.housekeeping import loaded_up_to

    services = STATE.services()
    config = services.repo.get_table(source_tablename)
    if any(name == config.source_tablename for name, _ in services.repo.locked_hops()):
        raise ConflictError(
            f"table {config.source_tablename!r} is being run: compact it when the run ends "
            "(`sluice runs --table` shows it)"
        )
    lake_table = _lake_table(services, config)
    plan = plan_compaction(lake_table.batches(), loaded_up_to(config))
    merged = plan.sequences
    if plan.batches and not dry_run:
        compacted = compact_batches(lake_table, plan, run_id=0)
        merged = [] if compacted is None else [sequence for sequence, _ in compacted.covers]
    report = {"table": config.source_tablename, "compacted": merged, "dry_run": dry_run}
    if as_json:
        emit_json(report)
        return
    verb = "would merge" if dry_run else "merged"
    console.print(
        f"{config.source_tablename}: {verb} {len(merged)} batch(es) "
        + (", ".join(str(b) for b in merged) or "(none: nothing small and loaded to merge)"),
        highlight=False,
    )


@app.command("migrate")
def migrate(
    source_tablename: Annotated[
        str | None, typer.Argument(help="One table; all tables when left out.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a lake written before its tables were Iceberg tables readable as Iceberg.

    Records each table's current batches (its newest full one and those after it) as
    snapshots of its Iceberg table; the files stay where they are. A table being run is
    left for later (its next incremental batch does the same).
    """
    from sluice.core.errors import ConflictError
    from sluice.core.models import Hop

    services = STATE.services()
    configs = (
        [services.repo.get_table(source_tablename)]
        if source_tablename
        else services.repo.list_tables()
    )
    busy = services.repo.locked_hops()
    report: list[dict[str, Any]] = []
    for config in configs:
        if (config.source_tablename, Hop.SOURCE_TO_DL) in busy:
            if source_tablename:
                raise ConflictError(
                    f"table {config.source_tablename!r} is being run: migrate it when the run "
                    "ends (`sluice runs --table` shows it)"
                )
            continue
        recorded = _lake_table(services, config).adopt()
        report.append({"table": config.source_tablename, "recorded": recorded})
    if as_json:
        emit_json(report)
        return
    for entry in report:
        batches = ", ".join(str(b) for b in entry["recorded"]) or "none (up to date)"
        console.print(f"{entry['table']}: recorded batch(es) {batches}", highlight=False)


@app.command("options")
def options(as_json: JsonOpt = False) -> None:
    """Show the lake location and its stored options (secrets masked)."""
    from sluice.engine.services import redacted_lake_options

    services = STATE.services()
    uri = services.lake_uri()
    stored = redacted_lake_options(services.stored_lake_options())
    if as_json:
        emit_json({"lake": uri, "lake_options": stored or None})
        return
    console.print(f"lake: {escape(uri)}", highlight=False)
    if not stored:
        console.print("lake options: none (the AWS chain and variables alone)", highlight=False)
    for name, value in stored.items():
        console.print(f"  {escape(name)}: {escape(json.dumps(value))}", highlight=False)
