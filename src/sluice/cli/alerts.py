"""`sluice alerts ...`: where notifications of failed, stale and recovered hops go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from sluice.cli.output import console, emit_json, table
from sluice.cli.state import STATE
from sluice.core.errors import ConfigError

if TYPE_CHECKING:
    from sluice.service.alerts import AlertWatch

app = typer.Typer(
    help="Notifications when a table's hop fails, goes stale or recovers (Apprise URLs).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _watch() -> AlertWatch:
    from sluice.config.history import RunHistory
    from sluice.service.alerts import AlertWatch

    services = STATE.services()
    return AlertWatch(services.repo, RunHistory(services.repo.engine))


def _shown(url: str) -> str:
    """A target as it may be shown: its scheme and host, never the path or token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '...'}/***"


@app.command("add")
def add(
    name: str,
    url: Annotated[
        str, typer.Argument(help="An Apprise URL: slack://..., mailto://..., json://...")
    ],
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="Only alerts of these tables: comma-separated name patterns (sales.*,orders); "
            "default: every table.",
        ),
    ] = None,
) -> None:
    """Send alerts to URL as well (stored sealed, like creds)."""
    import apprise

    from sluice.config import validation as v

    patterns = None
    if tables is not None:
        listed = [p.strip() for p in tables.split(",") if p.strip()]
        if not listed:
            raise ConfigError("--tables needs at least one table name or pattern (sales.*)")
        for pattern in listed:
            v.table_name(pattern, "table pattern (--tables)")
        patterns = ",".join(listed)
    if not apprise.Apprise().add(url):
        raise ConfigError(
            f"alert target {name!r}: Apprise does not take that URL; see "
            "https://github.com/caronc/apprise/wiki for each service's form "
            "(slack://TokenA/TokenB/TokenC, mailto://user:pass@example.com, json://host/path)"
        )
    _watch().store.add_target(name, url, patterns)
    only = f" for tables {patterns}" if patterns else ""
    console.print(
        f"alert target [bold]{escape(name)}[/] added: {escape(_shown(url))}{escape(only)}"
    )


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The alert targets (URLs shown without their secrets) and the tables each takes."""
    shown = [(t.name, _shown(t.url), list(t.tables)) for t in _watch().store.targets()]
    if as_json:
        emit_json([{"name": n, "url": url, "tables": tables or None} for n, url, tables in shown])
        return
    rows = [(n, url, ", ".join(tables) or "(all)") for n, url, tables in shown]
    table("alert targets", ["name", "url", "tables"], rows)


@app.command("remove")
def remove(name: str) -> None:
    """Stop sending alerts to a target."""
    _watch().store.remove_target(name)
    console.print(f"alert target [bold]{escape(name)}[/] removed")


@app.command("test")
def test(name: str) -> None:
    """Send a test notification to a target."""
    _watch().test(name)
    console.print(f"[green]ok[/] alert target {escape(name)} took the test notification")


@app.command("check")
def check(as_json: JsonOpt = False) -> None:
    """Announce the hops whose state changed now (the scheduler does this every pass)."""
    from sluice.core.clock import utcnow

    sent = _watch().check(utcnow())
    if as_json:
        emit_json(
            [
                {"table": a.table, "hop": a.hop.value, "state": a.state, "title": a.title}
                for a in sent
            ]
        )
        return
    for alert in sent:
        console.print(escape(alert.title), highlight=False)
    if not sent:
        console.print("no change to announce")
