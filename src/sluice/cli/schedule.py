"""`sluice scheduler` and `sluice status`."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sluice.cli.output import console, emit_json, table, warn
from sluice.cli.state import STATE
from sluice.core.clock import utcnow
from sluice.core.freshness import freshness
from sluice.core.models import Hop

if TYPE_CHECKING:
    from sluice.config.records import TableConfig

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def scheduler_command(
    once: Annotated[
        bool, typer.Option("--once", help="One pass, wait for its runs, exit.")
    ] = False,
    max_concurrent: Annotated[
        int, typer.Option("--max-concurrent", min=1, help="Runs at the same time.")
    ] = 2,
    tick: Annotated[float, typer.Option("--tick", min=0.5, help="Seconds between passes.")] = 15.0,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds running runs get to finish on stop.")
    ] = 300.0,
) -> None:
    """Start each active hop's runs when its interval has passed (triggered_by schedule)."""
    from sluice.executors.choice import runs_elsewhere
    from sluice.scheduler.daemon import Launcher, Scheduler, SubprocessLauncher, ThreadLauncher
    from sluice.scheduler.liveness import LEASE

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    services = STATE.services()
    # Stages on workers elsewhere: each run waits on a thread here, no process of its own.
    launcher: Launcher = (
        ThreadLauncher(services) if runs_elsewhere() else SubprocessLauncher(services.config_url)
    )
    scheduler = Scheduler(
        services, launcher, max_concurrent=max_concurrent, tick_seconds=tick, grace_seconds=grace
    )
    if not once:
        scheduler.serve()
        return
    report = scheduler.tick()
    if not report.leader:
        console.print("another scheduler holds the lease: nothing started")
        return
    while launcher.running():
        time.sleep(0.2)
    scheduler.collect()  # log each run's end, as the daemon does
    scheduler.repo.drop_lease(LEASE, scheduler.holder)
    console.print(
        f"started {len(report.started)} run(s) {report.started}, reaped {len(report.reaped)}, "
        f"{len(report.waiting)} due hop(s) waiting for a free slot",
        highlight=False,
    )


def status_command(as_json: JsonOpt = False) -> None:
    """Every table and hop: state, last status and time, watermark, next due time."""
    from sluice.scheduler.daemon import Scheduler, SubprocessLauncher
    from sluice.scheduler.liveness import scheduler_liveness

    services = STATE.services()
    scheduler = Scheduler(services, SubprocessLauncher(services.config_url))
    now = utcnow()
    alive = scheduler_liveness(services.repo, now)
    scheduler.engine.reap()  # a hop whose run's worker died shows as failed, not running
    from sluice.config.history import RunHistory

    history = RunHistory(services.repo.engine)
    applied = history.extract_warnings()
    succeeded = history.last_success()
    rows: list[dict[str, Any]] = []
    states = scheduler.states(now)
    for state in states:
        hop = state.table.hop(state.hop)
        next_due = state.next_due(now)
        last_success = succeeded.get((state.table.source_tablename, state.hop))
        fresh = freshness(
            hop.schedule_minutes,
            hop.is_active,
            last_success,
            hop.last_run_at,
            now,
            hop.fresh_within,
        )
        rows.append(
            {
                "table": state.table.source_tablename,
                "hop": state.hop.value,
                "state": "running" if state.busy else ("active" if state.active else "paused"),
                "load_type": hop.load_type.value,
                "schedule_minutes": hop.schedule_minutes,
                "last_status": hop.last_run_status,
                "last_run_at": hop.last_run_at.isoformat() if hop.last_run_at else None,
                "last_success_at": last_success.isoformat() if last_success else None,
                "fresh_within_minutes": None
                if fresh.target is None
                else int(fresh.target.total_seconds() // 60),
                "stale": fresh.stale,
                "watermark": hop.last_incremental_value,
                "next_due_at": next_due.isoformat() if next_due else None,
                # Due or not, nothing starts on its own while no scheduler holds the lease.
                "scheduler_running": alive.running,
                "future": future_guard(state.table) if state.hop is Hop.SOURCE_TO_DL else None,
                "warnings": applied.get(state.table.source_tablename, [])
                if state.hop is Hop.SOURCE_TO_DL
                else [],
            }
        )
    from sluice.cli.tables import warn_of_relative_paths

    seen = {id(state.table): state.table for state in states}
    warn_of_relative_paths(list(seen.values()))
    if as_json:
        emit_json(rows)
        return
    console.print(alive.describe(now), highlight=False)
    table(
        "status",
        [
            "table",
            "hop",
            "state",
            "load",
            "every",
            "last status",
            "last run",
            "fresh",
            "watermark",
            "next due",
            "future keys",
        ],
        [
            (
                r["table"],
                r["hop"],
                r["state"],
                r["load_type"],
                f"{r['schedule_minutes']}m" if r["schedule_minutes"] else "-",
                r["last_status"] or "-",
                (r["last_run_at"] or "-")[:19],
                fresh_text(r),
                r["watermark"] or "-",
                due_text(r["next_due_at"], now.isoformat(), alive.running),
                (r["future"] or "-").split(":", 1)[0],
            )
            for r in rows
        ],
    )
    for r in rows:
        if r["future"] and ": " in r["future"]:
            warn(f"{r['table']}: {r['future'].split(': ', 1)[1]}")
        for warning in r["warnings"]:
            warn(f"{r['table']}: {warning}")


def fresh_text(row: dict[str, Any]) -> str:
    """`stale` with its target, `ok`, or `-` for a hop nobody expects to move."""
    if row["stale"] is None:
        return "-"
    target = f"within {row['fresh_within_minutes']}m"
    return f"STALE (not {target})" if row["stale"] else f"ok ({target})"


def due_text(next_due_at: str | None, now: str, scheduler_running: bool) -> str:
    """`now` only when a scheduler will start it; otherwise say that nothing will."""
    if next_due_at is None:
        return "-"
    if next_due_at <= now:
        return "now" if scheduler_running else "due (no scheduler)"
    return next_due_at[:19]


def future_guard(config: TableConfig) -> str:
    """Hop 1's guard against keys in the future, as `status` shows it: tolerance, policy and
    what the last run held back."""
    from sluice.core.future import DEFAULT_TOLERANCE, policy_of

    shown = f"{config.future_tolerance or DEFAULT_TOLERANCE}, {policy_of(config.future_policy)}"
    return f"{shown}: {config.future_held}" if config.future_held else shown
