"""The scheduler loop: lease, reap, find due hops, start runs within the bound, stop cleanly.

Runs execute in child processes (`sluice runs execute RUN_ID`), so a crash in one run cannot
take the scheduler down, and a shutdown can stop what outlived its grace period.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sluice.config.history import RunHistory
from sluice.config.runs import RunRepository
from sluice.core.clock import utcnow
from sluice.core.errors import ConflictError
from sluice.core.models import Hop, HopChoice, TriggeredBy
from sluice.engine.liveness import unfinished_hops
from sluice.engine.runner import RunEngine
from sluice.engine.services import Services
from sluice.executors.choice import executor_for
from sluice.scheduler.child import run_process
from sluice.scheduler.due import DueHop, HopState, due_hops, hop_states
from sluice.scheduler.liveness import LEASE

log = logging.getLogger("sluice.scheduler")


class Launcher(Protocol):
    """Starts the execution of a created run and reports whether it is still going."""

    def start(self, run_id: int) -> None: ...

    def running(self) -> list[int]: ...

    def stop_all(self) -> list[int]: ...


class SubprocessLauncher:
    def __init__(self, config_url: str) -> None:
        self.config_url = config_url
        self.children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, run_id: int) -> None:
        # The config URL (maybe with a password) goes through the environment, not argv.
        command, env = run_process(self.config_url, run_id)
        child = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children[run_id] = child
        # A thread per child waits for it, so it is reaped the moment it exits (no <defunct>
        # entry between passes); running() then only reads the recorded return code.
        threading.Thread(target=child.wait, name=f"reap-{run_id}", daemon=True).start()

    def running(self) -> list[int]:
        """Runs whose process is still going. Polling reaps those that exited (wait(2) on
        them), so no child lingers as a zombie."""
        for run_id, child in list(self.children.items()):
            if child.poll() is not None:
                del self.children[run_id]
        return list(self.children)

    def stop_all(self) -> list[int]:
        stopped = list(self.running())
        for run_id in stopped:
            self.children[run_id].kill()
            self.children[run_id].wait()
        self.children.clear()
        return stopped


class ThreadLauncher:
    """Executes each run on a thread of this process: for an executor whose stages run on
    workers elsewhere (SLUICE_EXECUTOR=celery), where a run's own process would only wait,
    and its start (half a second of imports) would cost more than a tiny run's stages."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.threads: dict[int, threading.Thread] = {}

    def start(self, run_id: int) -> None:
        # An engine and an executor per run: a Celery client's result consumer is not shared
        # between threads.
        engine = RunEngine(self.services, executor_for(self.services))
        thread = threading.Thread(
            target=_execute, args=(engine, run_id), name=f"run-{run_id}", daemon=True
        )
        self.threads[run_id] = thread
        thread.start()

    def running(self) -> list[int]:
        for run_id, thread in list(self.threads.items()):
            if not thread.is_alive():
                del self.threads[run_id]
        return list(self.threads)

    def stop_all(self) -> list[int]:
        """A thread cannot be stopped: its run ends with this process, its heartbeat with it,
        and the reaper fails it (as it does a killed child's)."""
        stopped = self.running()
        self.threads.clear()
        return stopped


def _execute(engine: RunEngine, run_id: int) -> None:
    try:
        engine.execute(run_id)
    except Exception:  # the run's own failure is recorded by the engine; this is the rest
        log.exception("run %s on a scheduler thread", run_id)


class InlineLauncher:
    """Executes each run to completion in this process (for --once passes and tests)."""

    def __init__(self, services: Services) -> None:
        self.engine = RunEngine(services, executor_for(services))

    def start(self, run_id: int) -> None:
        self.engine.execute(run_id)

    def running(self) -> list[int]:
        return []

    def stop_all(self) -> list[int]:
        return []


@dataclass
class TickReport:
    reaped: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    waiting: list[DueHop] = field(default_factory=list)
    leader: bool = True


class Scheduler:
    def __init__(
        self,
        services: Services,
        launcher: Launcher,
        *,
        max_concurrent: int = 2,
        tick_seconds: float = 15.0,
        grace_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.repo = services.repo
        self.launcher = launcher
        self.max_concurrent = max_concurrent
        self.tick_seconds = tick_seconds
        self.grace_seconds = grace_seconds
        self.clock = clock
        self.engine = RunEngine(services, executor_for(services))
        self.history = RunHistory(services.repo.engine)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._launched: set[int] = set()  # started by this scheduler, end not yet logged

    def collect(self) -> list[int]:
        """Reap the children that exited and log each of their runs' end; return those runs."""
        going = set(self.launcher.running())
        ended = sorted(self._launched - going)
        for run_id in ended:
            self._launched.discard(run_id)
            log_end(self.repo, run_id)
        return ended

    def states(self, now: datetime) -> list[HopState]:
        """Every table's hops as due.py sees them: three reads in all, whatever the number of
        tables (one query per table made a pass over 10,000 tables take seconds)."""
        locked = self.repo.locked_hops()
        started = self.history.last_started()
        states: list[HopState] = []
        for table in self.repo.list_tables():
            states += hop_states(table, started, locked)
        return states

    def tick(self) -> TickReport:
        """One pass: everything the scheduler does, once."""
        report = TickReport()
        self.collect()
        ttl = timedelta(seconds=max(3 * self.tick_seconds, 30))
        if not self.repo.take_lease(LEASE, self.holder, ttl):
            report.leader = False
            return report
        report.reaped = self.engine.reap()
        self._announce()
        # A second look after starting: a hop 2 that waited for its hop 1 in this pass is due
        # once that hop 1 has published (at once with a launcher that runs inline; with child
        # processes hop 1 is still running then, and a later pass starts hop 2).
        for hops in (tuple(Hop), (Hop.DL_TO_SINK,)):
            now = self.clock()
            due = due_hops(self.states(now), now, hops)
            if not self._start(due, report):
                break
        self.repo.mark_pass(LEASE, self.holder)
        return report

    def _announce(self) -> None:
        """Alerts for hops whose state changed (service/alerts.py); a failure here is
        logged and never keeps the scheduler from starting runs."""
        from sluice.service.alerts import AlertWatch

        try:
            for alert in AlertWatch(self.repo, self.history).check(self.clock()):
                log.info("announced: %s", alert.title)
        except Exception:
            log.exception("alerts could not be checked")

    def _start(self, due: list[DueHop], report: TickReport) -> bool:
        """Start what the bound allows; True if anything started."""
        started = False
        for item in due:
            if self.repo.count_active() >= self.max_concurrent:
                if item not in report.waiting:
                    report.waiting.append(item)
                continue
            try:
                run = self.engine.create(
                    item.table, HopChoice(item.hop.value), TriggeredBy.SCHEDULE
                )
            except ConflictError as exc:  # started by someone else since we looked
                log.info("skipping %s %s: %s", item.table, item.hop.value, exc)
                continue
            log.info("starting run %s: %s %s", run.id, item.table, item.hop.value)
            report.started.append(run.id)
            self._launched.add(run.id)
            self.launcher.start(run.id)
            started = True
        return started

    def serve(self) -> None:
        """Tick until SIGTERM/SIGINT, then stop within the grace period."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        log.info(
            "scheduler %s started (tick %ss, max %s runs)",
            self.holder,
            self.tick_seconds,
            self.max_concurrent,
        )
        while not self._stop.is_set():
            report = self.tick()
            if not report.leader:
                log.debug("another scheduler holds the lease")
            # Wait in short slices, reaping and logging ended runs as they end.
            deadline = time.monotonic() + self.tick_seconds
            while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
                self._stop.wait(min(left, 1.0))
                self.collect()
        self.shutdown()

    def shutdown(self) -> None:
        log.info(
            "stopping: no new runs; waiting up to %ss for %s running run(s)",
            self.grace_seconds,
            len(self.launcher.running()),
        )
        deadline = time.monotonic() + self.grace_seconds
        while self.launcher.running() and time.monotonic() < deadline:
            self.collect()
            time.sleep(0.2)
        cut_short = self.launcher.stop_all()
        for run_id in cut_short:
            run = self.repo.get_run(run_id)
            reason = f"cut short: the scheduler stopped and the {self.grace_seconds}s grace ran out"
            if self.repo.fail_abandoned(run, reason, unfinished_hops(self.repo, run_id)):
                log.warning("run %s %s", run_id, reason)
        self.collect()
        self.repo.drop_lease(LEASE, self.holder)
        log.info("scheduler stopped (%s run(s) cut short)", len(cut_short))

    def stop(self) -> None:
        self._stop.set()


def log_end(repo: RunRepository, run_id: int) -> None:
    """One line per ended run: status, rows, duration and the error's first line.

    A run whose process exited while the run is still active died without finishing it (a
    crash, a kill): it is failed here at once rather than left for the heartbeat timeout.
    """
    run = repo.get_run(run_id)
    if run.status.value in ("pending", "running"):
        repo.fail_abandoned(
            run, "its process exited before finishing the run", unfinished_hops(repo, run_id)
        )
        run = repo.get_run(run_id)
    logs = repo.stage_logs(run_id)
    rows = max((entry.rows_processed or 0 for entry in logs), default=0)
    took = (
        f"{(run.completed_at - run.started_at).total_seconds():.1f}s"
        if run.completed_at and run.started_at
        else "-"
    )
    line = f"run {run.id} ended: {run.source_tablename} {run.hop} {run.status.value}, "
    line += f"{rows} rows, {took}"
    if run.error_message:
        line += f": {run.error_message.strip().splitlines()[0]}"
    (log.warning if run.status.value == "failed" else log.info)("%s", line)
