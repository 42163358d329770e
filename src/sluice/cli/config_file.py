"""`sluice apply FILE` and `sluice export`: the config kept as a YAML document (in git, reviewed
like code) and the config database made to match it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sluice.cli.output import console, emit_json
from sluice.cli.state import STATE
from sluice.core.errors import ConfigError


def apply_command(
    file: Annotated[Path, typer.Argument(help="The YAML document (docs/config-as-code.md).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Also remove the tables, sources, destinations and templates the document "
            "leaves out (without it nothing is removed).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Make the config database match a YAML document: print the plan, then apply it."""
    from sluice.service.apply import apply_plan
    from sluice.service.document import read_document
    from sluice.service.plan import Planner

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    document, lines = read_document(text, str(file))
    repo = STATE.services().repo
    plan = Planner(repo, str(file), lines).plan(document, prune=prune)
    if not dry_run:
        apply_plan(repo, plan)
    if as_json:
        emit_json({"applied": not dry_run, **plan.as_json()})
        return
    for line in plan.lines():
        console.print(escape(line), soft_wrap=True)
    counts = plan.counts()
    if plan.steps:
        done = "would be" if dry_run else "were"
        console.print(
            f"{counts['add']} to add, {counts['change']} to change, {counts['remove']} to "
            f"remove: {done} applied" + (" (--dry-run)" if dry_run else "")
        )


def export_command(
    tables: Annotated[
        str | None,
        typer.Option("--tables", help="Only tables whose name matches this pattern (sales.*)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Write the config as a YAML document for `sluice apply` (secrets never in clear)."""
    from sluice.service.export import export_yaml

    text = export_yaml(STATE.services().repo, tables)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {escape(str(output))}")
