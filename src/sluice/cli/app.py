"""The `sluice` command: wiring of the sub-commands, global options and exit codes.

Exit codes: 0 success; 1 a run failed; 2 bad command-line usage; 3 invalid config or input;
4 something named does not exist; 5 a conflict (exists already, or in use).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from rich.markup import escape

from sluice.cli import output
from sluice.cli.alerts import app as alerts_app
from sluice.cli.config_file import apply_command, export_command
from sluice.cli.connections import connection_app
from sluice.cli.discover import discover_command
from sluice.cli.keys import app as key_app
from sluice.cli.lake import app as lake_app
from sluice.cli.runs import run_command, runs_app
from sluice.cli.schedule import scheduler_command, status_command
from sluice.cli.serve import serve_command
from sluice.cli.state import STATE
from sluice.cli.tables import app as tables_app
from sluice.cli.tokens import token_app
from sluice.cli.worker import worker_command, workers_command
from sluice.core.errors import ConfigError, SluiceError


class _Typer(typer.Typer):
    """A Typer that builds its Click command once per process. Typer builds it on every call
    by inspecting each command's signature (about 0.1 s for sluice's): a process that runs the
    CLI more than once, as the tests do, would pay that each time."""

    _command: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._command is None:
            self._command = typer.main.get_command(self)
        return self._command(*args, **kwargs)


app = _Typer(
    name="sluice",
    help="Replicate tables from sources into a Parquet lake and on into sinks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stages_app = typer.Typer(help="Stage templates (pipeline_stages).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.callback()
def main_options(
    config_db: Annotated[
        str | None,
        typer.Option(
            "--config-db",
            envvar="SLUICE_CONFIG_DB",
            help="Config database: a SQLite file path or URL, or postgresql://... "
            "[default: databases/config_db/data/config.db]",
        ),
    ] = None,
) -> None:
    STATE.config_db = config_db


@app.command("init")
def init(
    lake: Annotated[
        str | None, typer.Option("--lake", help="Lake location: a path or URI [default: lake/].")
    ] = None,
    lake_options: Annotated[
        str | None,
        typer.Option(
            "--lake-options",
            help="S3 options as a JSON object, or @FILE: endpoint_url, region, access_key_id, "
            'secret_access_key, session_token; a value may be {"env": "NAME"}. Stored '
            "encrypted; '{}' removes them (the AWS chain alone).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or upgrade the config database and set the lake location and options."""
    from sluice.cli.connections import read_creds
    from sluice.config.database import create_config_engine, display_url, resolve_url
    from sluice.config.keys import refuse_new_key
    from sluice.config.migrate import upgrade
    from sluice.config.repository import ConfigRepository
    from sluice.config.secrets import ensure_key_file, key_file_for
    from sluice.engine.services import (
        DEFAULT_LAKE,
        ENV_LAKE,
        LAKE_SETTING,
        normalise_lake,
        parse_lake_options,
        redacted_lake_options,
        store_lake_options,
        stored_lake_options,
    )

    # Everything that can be checked is checked before anything is written (the database,
    # its directory, the key file), so a typo leaves the installation as it was.
    options = None if lake_options is None else parse_lake_options(read_creds(lake_options))
    url = resolve_url(STATE.config_db)
    new_lake = None if lake is None else normalise_lake(lake or DEFAULT_LAKE)
    if options:
        in_use = (
            os.environ.get(ENV_LAKE)
            or new_lake
            or _stored_setting(url, LAKE_SETTING)
            or normalise_lake(DEFAULT_LAKE)
        )
        if not in_use.startswith("s3://"):
            raise ConfigError(
                f"--lake-options apply to an S3 lake (s3://bucket/prefix), and the lake is "
                f"{in_use}: give --lake s3://... as well"
            )
    engine = create_config_engine(url)
    key_file = key_file_for(url).absolute()
    try:
        refuse_new_key(engine, key_file)  # before anything is written
        before, after = upgrade(engine)
        key_created = ensure_key_file(key_file)
        repo = ConfigRepository(engine)
        current = new_lake or repo.get_setting(LAKE_SETTING) or normalise_lake(DEFAULT_LAKE)
        repo.set_setting(LAKE_SETTING, current)
        if options is not None:
            store_lake_options(repo, options)
        else:
            try:
                options = stored_lake_options(repo)
            except ConfigError as exc:
                # Upgrading must not depend on the key; the runs will say the same.
                output.warn(str(exc))
                options = {}
        shown_options = redacted_lake_options(options)
    finally:
        engine.dispose()
    if as_json:
        output.emit_json(
            {
                "config_db": display_url(url),
                "revision": after,
                "previous_revision": before,
                "lake": current,
                "lake_options": shown_options or None,
                "secret_key_file": None if os.environ.get("SLUICE_SECRET_KEY") else str(key_file),
            }
        )
        return
    state = "created" if before is None else ("upgraded" if before != after else "up to date")
    output.console.print(
        f"config database {display_url(url)} {state} (revision {after})", highlight=False
    )
    output.console.print(f"lake: {escape(str(current))}", highlight=False)
    if shown_options:
        output.console.print(f"lake options: {escape(json.dumps(shown_options))}", highlight=False)
    if key_created:
        output.console.print(
            f"secret key created: {key_file} (mode 0600; stored credentials are encrypted with "
            "it: back it up, and keep it out of version control)",
            highlight=False,
        )


def _stored_setting(url: str, key: str) -> str | None:
    """A setting of an existing config database, read without creating or upgrading it.

    None when there is no database yet, or when it predates sluice's settings table.
    """
    from sqlalchemy.engine import make_url

    from sluice.config.database import create_config_engine
    from sluice.config.migrate import SEED_REVISION, current_revision
    from sluice.config.repository import ConfigRepository

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (
        parsed.database and parsed.database != ":memory:" and Path(parsed.database).exists()
    ):
        return None  # opening it would create the file
    engine = create_config_engine(url)
    try:
        if current_revision(engine) in (None, SEED_REVISION):
            return None
        return ConfigRepository(engine).get_setting(key)
    finally:
        engine.dispose()


@stages_app.command("list")
def stages_list(
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Only this template.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List stage templates."""
    from sluice.service.catalog import Catalog

    found = Catalog(STATE.services().repo).stages(pipeline)
    if as_json:
        output.emit_json([s.__dict__ for s in found])
        return
    output.table(
        "stages",
        ["pipeline", "order", "name", "type", "driver_container"],
        [
            (s.pipeline_name, s.stage_order, s.stage_name, s.stage_type, s.driver_container)
            for s in found
        ],
    )


@stages_app.command("add")
def stages_add(
    pipeline: Annotated[str, typer.Option("--pipeline", help="Template name (new or existing).")],
    order: Annotated[int, typer.Option("--order", help="Position in the template (1, 2, ...).")],
    stage_type: Annotated[str, typer.Option("--type", help="Registered stage type.")],
    name: Annotated[str, typer.Option("--name", help="Human-readable name.")],
    pool: Annotated[
        str | None, typer.Option("--driver-container", help="Worker pool that runs it.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a stage to a template."""
    from sluice.service.catalog import Catalog

    stage = Catalog(STATE.services().repo).add_stage(pipeline, order, name, stage_type, pool)
    if as_json:
        output.emit_json(stage.__dict__)
    else:
        output.console.print(
            f"stage {stage.stage_order} ({stage.stage_type}) added to {escape(pipeline)}"
        )


@app.command("demo")
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Working directory (replaced).")] = Path(
        "demo"
    ),
    order_items: Annotated[int, typer.Option("--order-items", min=1000)] = 240_000,
) -> None:
    """Build a sample shop database and replicate it end to end into DuckDB."""
    from sluice.cli.demo import run_demo

    run_demo(directory, order_items)


app.add_typer(connection_app("source"), name="source")
app.add_typer(connection_app("destination"), name="destination")
app.add_typer(tables_app, name="table")
app.command("discover")(discover_command)
app.command("apply")(apply_command)
app.command("export")(export_command)
app.add_typer(stages_app, name="stages")
app.command("run")(run_command)
app.command("scheduler")(scheduler_command)
app.command("status")(status_command)
app.add_typer(runs_app, name="runs")
app.add_typer(lake_app, name="lake")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.command("workers")(workers_command)
app.add_typer(token_app, name="token")
app.add_typer(key_app, name="key")
app.add_typer(alerts_app, name="alerts")


def _config_db_errors() -> tuple[type[BaseException], ...]:
    """The driver errors the config database raises, without importing SQLAlchemy for
    commands that never opened it (an except clause is evaluated only when an error passes)."""
    if "sqlalchemy" not in sys.modules:
        return ()
    from sqlalchemy.exc import DBAPIError

    return (DBAPIError,)


def main() -> None:
    try:
        # Standalone mode: usage errors print the usage and exit 2, as Click does.
        app()
    except SluiceError as exc:
        output.fail(str(exc))
        sys.exit(exc.exit_code)
    except _config_db_errors() as exc:
        # A config database that is damaged, read-only or unreachable: one line with the fix.
        from sluice.config.database import resolve_url
        from sluice.config.dberrors import config_db_error

        error = config_db_error(exc, resolve_url(STATE.config_db))
        output.fail(str(error))
        sys.exit(error.exit_code)
    except OverflowError:
        # An id, interval or order beyond a 64-bit integer, met by the database driver.
        output.fail("a number given on the command line is too large: give a smaller one")
        sys.exit(2)
    except OSError as exc:
        # Whatever file or socket it was (lake commands sort their own): one line saying
        # which, instead of a traceback.
        where = f": {exc.filename}" if exc.filename else ""
        output.fail(f"{exc.strerror or exc}{where}")
        sys.exit(1)
    except KeyboardInterrupt:
        output.fail("interrupted")
        sys.exit(130)
    finally:
        STATE.close()
