"""`sluice source ...` and `sluice destination ...`: one implementation for both kinds."""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from sluice.cli.output import checked, console, emit_json, table, warn
from sluice.cli.state import STATE
from sluice.connectors import registry
from sluice.core.errors import ConfigError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
NoCheckOpt = Annotated[
    bool,
    typer.Option("--no-check", help="Store without connecting first (setting up offline)."),
]


def _catalog(label: str) -> tuple[Any, Any]:
    """The shared config layer and the kind of connection, imported only when used."""
    from sluice.config.repository import DESTINATIONS, SOURCES
    from sluice.service.catalog import Catalog

    return Catalog(STATE.services().repo), SOURCES if label == "source" else DESTINATIONS


def read_creds(value: str) -> str:
    """JSON text, or @FILE to read it from a file (keeps secrets out of shell history)."""
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            return path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read creds file {path}: {exc.strerror}") from None
    return value


def parse_updates(pairs: list[str]) -> dict[str, str]:
    """`--set FIELD=VALUE` options as a dict; the value is never quoted back (a password).

    FIELD=@FILE reads the value from a file, so a secret stays out of argv (`ps`) and shell
    history; one final line break is dropped, as `echo` and editors add one. FIELD=@@TEXT
    stands for the literal value @TEXT.
    """
    updates: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(
                "--set takes FIELD=VALUE, one field of the creds such as password=...; "
                "an argument without '=' was given"
            )
        if not field.strip():
            raise ConfigError(
                "--set takes FIELD=VALUE, one field of the creds such as password=...; "
                "an argument without a field name before '=' was given"
            )
        updates[field.strip()] = _set_value(field.strip(), value)
    return updates


def _set_value(field: str, value: str) -> str:
    if value.startswith("@@"):
        return value[1:]
    if not value.startswith("@"):
        return value
    path = Path(value[1:]).expanduser()
    try:
        # utf-8-sig: an editor's byte-order mark is not part of a password.
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        # The path is not printed: a value such as password=@secret that was never meant as a
        # file would be echoed to the terminal and its logs.
        raise ConfigError(
            f"cannot read the value of --set {field} from the file named after '@': "
            f"{exc.strerror}; for a value that starts with '@', write '@@'"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"the value of --set {field} in {path} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")


def connection_app(label: str) -> typer.Typer:
    """The sub-commands of `sluice source` (label 'source') or `sluice destination`."""
    app = typer.Typer(
        help=f"Manage {label}s (connections and their credentials).", no_args_is_help=True
    )
    is_source = label == "source"
    types = registry.source_types() if is_source else registry.sink_types()

    @app.command("add")
    def add(
        name: Annotated[str, typer.Argument(help=f"A unique name for the {label}.")],
        type_name: Annotated[str, typer.Option("--type", help=f"One of: {', '.join(types)}.")],
        creds: Annotated[str, typer.Option("--creds", help="JSON object, or @FILE.")],
        no_check: NoCheckOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Add a {label}; it must answer first unless --no-check."""
        catalog, kind = _catalog(label)
        notes: list[str] = []
        found: list[str] = []
        record = catalog.add_connection(
            kind, name, type_name, read_creds(creds), notes, check=not no_check, found=found
        )
        checked(found)
        shown = catalog.describe_connection(kind, record)
        if as_json:
            emit_json(shown)
        else:
            console.print(
                f"{label} [bold]{escape(record.name)}[/] added ({record.type}, id {record.id})"
            )
        for note in notes:  # on stderr, so --json stays parseable
            warn(f"{note}: a relative path would be read from whatever directory runs")

    @app.command("edit")
    def edit(
        name: Annotated[str, typer.Argument(help=f"The {label} to change.")],
        creds: Annotated[
            str | None,
            typer.Option("--creds", help="New creds replacing the stored ones: JSON, or @FILE."),
        ] = None,
        updates: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                metavar="FIELD=VALUE",
                help="Change one creds field and keep the others (repeatable); numbers are "
                "read as the connector's creds declare them. FIELD=@FILE reads the value from "
                "a file (one final line break dropped); FIELD=@@TEXT means the value @TEXT.",
            ),
        ] = None,
        type_name: Annotated[
            str | None,
            typer.Option("--type", help=f"New type, only while no table uses the {label}."),
        ] = None,
        no_check: NoCheckOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Change a {label}'s creds or type (it must answer first unless --no-check); its
        name, id and tables stay."""
        catalog, kind = _catalog(label)
        notes: list[str] = []
        found: list[str] = []
        record = catalog.edit_connection(
            kind,
            name,
            type_name=type_name,
            creds_json=None if creds is None else read_creds(creds),
            updates=parse_updates(updates or []),
            notes=notes,
            check=not no_check,
            found=found,
        )
        checked(found)
        if as_json:
            emit_json(catalog.describe_connection(kind, record))
        else:
            console.print(
                f"{label} [bold]{escape(record.name)}[/] updated ({record.type}, id {record.id})"
            )
        for note in notes:
            warn(f"{note}: a relative path would be read from whatever directory runs")

    @app.command("list")
    def list_(as_json: JsonOpt = False) -> None:
        """List the configured {label}s (credentials redacted)."""
        catalog, kind = _catalog(label)
        rows = [catalog.describe_connection(kind, r) for r in catalog.repo.list_connections(kind)]
        if as_json:
            emit_json(rows)
            return
        table(
            f"{label}s",
            ["name", "type", "creds", "id", "created"],
            [
                (
                    r["name"],
                    r["type"],
                    "CANNOT UNSEAL (see below)" if r.get("unreadable") else r["creds"],
                    r["id"],
                    (r["created_at"] or "-")[:19],
                )
                for r in rows
            ],
        )
        for r in rows:
            if r.get("unreadable"):
                warn(r["unreadable"])

    @app.command("show")
    def show(name: str, as_json: JsonOpt = False) -> None:
        """Show one {label} (credentials redacted)."""
        catalog, kind = _catalog(label)
        shown = catalog.describe_connection(kind, catalog.repo.get_connection(kind, name))
        if as_json:
            emit_json(shown)
            return
        for key, value in shown.items():
            console.print(f"[bold]{key}[/]: {escape(str(value))}", highlight=False)

    @app.command("remove")
    def remove(name: str) -> None:
        """Remove a {label} that no table uses."""
        catalog, kind = _catalog(label)
        catalog.repo.remove_connection(kind, name)
        console.print(f"{label} [bold]{escape(name)}[/] removed")

    @app.command("test")
    def test(name: str, as_json: JsonOpt = False) -> None:
        """Connect to the {label} and report what answered."""
        catalog, kind = _catalog(label)
        answer = catalog.ping_connection(kind, name)
        if as_json:
            emit_json({"name": name, "ok": True, "detail": answer})
        else:
            console.print(f"[green]ok[/] {label} {escape(name)}: {escape(answer)}", highlight=False)

    for command in (add, edit, list_, show, remove, test):
        command.__doc__ = (command.__doc__ or "").replace("{label}", label)
    return app
