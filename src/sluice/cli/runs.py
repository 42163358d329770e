"""`sluice run` and `sluice runs`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from sluice.cli.output import console, emit_json, errors, fail, hop_option, table, warn, when
from sluice.cli.state import STATE
from sluice.core.errors import RunFailedError
from sluice.core.models import RunStatus, TriggeredBy

if TYPE_CHECKING:
    from sluice.config.records import RunRecord, StageLogRecord
    from sluice.engine.runner import RunEngine

runs_app = typer.Typer(help="List runs, or show one with its stages.", invoke_without_command=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def make_engine() -> RunEngine:
    from sluice.engine.runner import RunEngine
    from sluice.executors.choice import executor_for

    services = STATE.services()
    return RunEngine(services, executor_for(services))


def describe_run(run: RunRecord, logs: list[StageLogRecord] | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": run.id,
        "source_tablename": run.source_tablename,
        "pipeline_name": run.pipeline_name,
        "hop": run.hop,
        "status": run.status.value,
        "current_stage": run.current_stage,
        "total_stages": run.total_stages,
        "triggered_by": run.triggered_by,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "completed_at": run.completed_at.isoformat() if run.completed_at else None,
        "error_message": run.error_message,
        "reload": run.reload,
    }
    if logs is not None:
        shown["stages"] = [
            {
                "stage_order": log.stage_order,
                "stage_name": log.stage_name,
                "stage_type": log.stage_type,
                "status": log.status,
                "rows_processed": log.rows_processed,
                "file_paths": log.file_paths,
                # A number of seconds, as the API gives it.
                "time_taken": float(log.time_taken) if log.time_taken else None,
                "started_at": log.started_at.isoformat() if log.started_at else None,
                "error_message": log.error_message,
                "attempts": log.attempts,  # tries, transient errors retried (as the API gives)
                "warnings": log.warnings,
            }
            for log in logs
        ]
    return shown


def run_command(
    source_tablename: Annotated[str, typer.Argument(help="The table to run.")],
    hop_text: Annotated[
        str,
        typer.Option("--hop", help="Which hop(s) to run: source_to_dl, dl_to_sink or all."),
    ] = "all",
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Stage template to use.")
    ] = None,
    as_json: JsonOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Say what the run would read and load; move no data, start no run."
        ),
    ] = False,
) -> None:
    """Run a table's hop(s) now (triggered_by manual). Exit 0 only if the run succeeded."""
    hop = hop_option(hop_text)
    services = STATE.services()
    if dry_run:
        from sluice.stages.preview import preview_run

        lines = preview_run(
            services.repo, services.lake(), services.repo.get_table(source_tablename), hop
        )
        if as_json:
            emit_json({"table": source_tablename, "hop": hop.value, "dry_run": lines})
        else:
            for line in lines:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    engine = make_engine()
    run = engine.create(source_tablename, hop, TriggeredBy.MANUAL, pipeline)
    follow_run(engine, run, as_json)


def follow_run(engine: RunEngine, run: RunRecord, as_json: bool) -> None:
    """Execute a created run here with a live view (or JSON); Ctrl-C fails it at once."""
    from sluice.cli.interrupt import fail_interrupted, interrupts_as_keyboard
    from sluice.cli.progress import LiveRunView

    services = STATE.services()
    source_tablename = run.source_tablename
    try:
        with interrupts_as_keyboard():
            if as_json:
                finished = engine.execute(run.id)
            else:
                what = "reload" if run.reload else "run"
                console.print(
                    f"{what} [bold]{run.id}[/] started: {escape(source_tablename)} ({run.hop})"
                )
                with LiveRunView(console) as view:
                    finished = engine.execute(run.id, view)
    except KeyboardInterrupt:
        # Marked failed at once, so no read shows it running; 130 as for any SIGINT. Before
        # the run read its table nothing of it ran: the table as it is now is the before.
        before = engine.table_at_start(run.id) or services.repo.get_table(source_tablename)
        fail(fail_interrupted(services.repo, run.id, before))
        raise typer.Exit(130) from None
    if as_json:
        emit_json(describe_run(finished, services.repo.stage_logs(run.id)))
    else:
        colour = "green" if finished.status is RunStatus.SUCCESS else "red"
        console.print(f"run [bold]{run.id}[/] [{colour}]{finished.status.value}[/]")
    if finished.status is not RunStatus.SUCCESS:
        raise RunFailedError(f"run {run.id} failed: {finished.error_message}")


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    table_name: Annotated[str | None, typer.Option("--table", help="Only this table.")] = None,
    status: Annotated[RunStatus | None, typer.Option("--status", help="Only this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List recent runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    make_engine().reap()  # a run whose worker died shows as failed, never as plainly running
    found = STATE.services().repo.list_runs(table_name, status.value if status else None, limit)
    if as_json:
        emit_json([describe_run(r) for r in found])
        return
    table(
        "runs",
        # "stage" is the template's stage order (a hop 2 run starts at 4 of the default
        # template), "stages" how many the run has: shown apart, not as a fraction.
        [
            "id",
            "table",
            "hop",
            "status",
            "stage",
            "stages",
            "trigger",
            "started",
            "completed",
            "error",
        ],
        [
            (
                r.id,
                r.source_tablename,
                r.hop,
                r.status.value,
                r.current_stage,
                r.total_stages,
                r.triggered_by,
                when(r.started_at),
                when(r.completed_at),
                (r.error_message or "")[:80],
            )
            for r in found
        ],
    )


@runs_app.command("execute", hidden=True)
def runs_execute(run_id: int) -> None:
    """Execute a run that was created already (what the scheduler's child processes do)."""
    finished = make_engine().execute(run_id)
    if finished.status is not RunStatus.SUCCESS:
        raise RunFailedError(f"run {run_id} failed: {finished.error_message}")


@runs_app.command("show")
def runs_show(run_id: int, as_json: JsonOpt = False) -> None:
    """Show a run and its stages: status, rows, files, time taken, error."""
    repo = STATE.services().repo
    make_engine().reap()  # a run whose worker died shows as failed, never as plainly running
    run = repo.get_run(run_id)
    logs = repo.stage_logs(run_id)
    if as_json:
        emit_json(describe_run(run, logs))
        if run.status is RunStatus.FAILED:
            raise typer.Exit(1)
        return
    colour = "green" if run.status is RunStatus.SUCCESS else "red"
    console.print(
        f"run [bold]{run.id}[/] {escape(run.source_tablename)} ({run.hop}, "
        f"{escape(run.pipeline_name)}) "
        f"[{colour}]{run.status.value}[/], triggered by {run.triggered_by}, "
        f"{when(run.started_at)} -> {when(run.completed_at)}",
        highlight=False,
    )
    if run.error_message:
        errors.print(f"error: {escape(run.error_message)}", highlight=False, soft_wrap=True)
    table(
        "stages",
        ["#", "stage", "type", "status", "rows", "time (s)", "files", "error"],
        [
            (
                log.stage_order,
                log.stage_name,
                log.stage_type,
                log.status,
                log.rows_processed,
                log.time_taken,
                "\n".join(log.file_paths),
                log.error_message or "",
            )
            for log in logs
        ],
    )
    for log in logs:
        for warning in log.warnings:
            warn(f"{log.stage_type}: {warning}")
    if run.status is RunStatus.FAILED:
        raise typer.Exit(1)  # scripts can tell a failed run from a good one
