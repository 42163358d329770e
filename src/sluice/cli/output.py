"""Printing for the CLI: Rich tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sluice.core.models import HopChoice

console = Console()
errors = Console(stderr=True)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=_default) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*("" if v is None else escape(str(v)) for v in row))
    console.print(view)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


# Messages are escaped: Rich would take `[mysql]` in `pip install 'sluice[mysql]'`, or `[]`
# in `text[]`, for markup and drop it.
def fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    errors.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def checked(lines: list[str]) -> None:
    """What an add/edit check found, on stderr, so --json output stays as it is."""
    for line in lines:
        errors.print(f"[green]checked:[/] {escape(line)}", highlight=False, soft_wrap=True)


def hop_option(value: str) -> HopChoice:
    """`--hop` parsed: a wrong value is a usage error (exit 2) in one line, not a framed box."""
    from sluice.config.validation import hop_choice
    from sluice.core.errors import ConfigError

    try:
        return hop_choice(value)
    except ConfigError as exc:
        fail(str(exc))
        raise typer.Exit(2) from None
