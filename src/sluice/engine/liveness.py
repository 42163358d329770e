"""Is the process behind a run still there? Heartbeats, and on the same host a direct look."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from sluice.config.records import RunRecord
from sluice.config.runs import RunRepository, Worker
from sluice.core.clock import utcnow
from sluice.core.errors import ConfigError
from sluice.core.models import Hop
from sluice.core.processes import process_gone, start_time


def this_worker() -> Worker:
    pid = os.getpid()
    return Worker(host=socket.gethostname(), pid=pid, started=start_time(pid) or "")


def abandoned_reason(
    run: RunRecord, worker_started: str | None, host: str, timeout: timedelta
) -> str | None:
    """Why an active run is dead, or None while it may still be alive."""
    if run.worker_host == host and run.worker_pid and process_gone(run.worker_pid, worker_started):
        return f"its process {run.worker_pid} on {host} is gone"
    last = run.heartbeat_at or run.started_at
    if last is not None and utcnow() - last > timeout:
        seconds = int((utcnow() - last).total_seconds())
        return f"no heartbeat for {seconds}s (limit {int(timeout.total_seconds())}s)"
    return None


def reap(runs: RunRepository, timeout: timedelta) -> list[int]:
    """Fail every active run whose worker died; return their ids."""
    host = socket.gethostname()
    reaped = []
    for run, started in runs.active_runs():
        reason = abandoned_reason(run, started, host, timeout)
        if reason is not None and runs.fail_abandoned(run, reason, unfinished_hops(runs, run.id)):
            reaped.append(run.id)
    return reaped


class Heartbeat:
    """Touches the run's heartbeat every `interval` seconds from a background thread."""

    def __init__(self, runs: RunRepository, run_id: int, interval: float) -> None:
        self._runs = runs
        self._run_id = run_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._runs.beat(self._run_id)


def unfinished_hops(runs: RunRepository, run_id: int) -> list[Hop]:
    """The hops a dead run had begun but not finished: their last status becomes failed. A
    hop whose planned stages all succeeded keeps its success (hop 1 committed its batch), and
    a hop that never ran keeps its previous status."""
    from sluice.stages.registry import get_stage_type

    def hop_of(stage_type: str | None) -> Hop | None:
        try:
            return get_stage_type(stage_type or "").hop
        except ConfigError:  # a stage type no longer registered
            return None

    logs = runs.stage_logs(run_id)
    planned: dict[Hop, set[int]] = {}
    for stage in runs.run_plan(run_id):
        hop = hop_of(stage.stage_type)
        if hop is None:
            return list(Hop)
        planned.setdefault(hop, set()).add(stage.stage_order)
    succeeded = {entry.stage_order for entry in logs if entry.status == "success"}
    found: list[Hop] = []
    for entry in logs:
        hop = hop_of(entry.stage_type)
        if hop is None:
            return list(Hop)  # cannot tell which hop it was: count it against both
        finished = hop in planned and planned[hop] <= succeeded
        if hop not in found and not finished:
            found.append(hop)
    return found
