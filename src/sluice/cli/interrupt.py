"""Ctrl-C or SIGTERM during `sluice run`: the run is failed at once, saying what committed.

Without this an interrupted run stayed `running` in every view until a later run reaped it
after the heartbeat timeout.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from sluice.config.records import TableConfig
from sluice.config.repository import ConfigRepository
from sluice.core.models import Hop, HopChoice
from sluice.engine.liveness import unfinished_hops


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """SIGTERM (systemd, kill) ends the run as Ctrl-C does."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail_interrupted(repo: ConfigRepository, run_id: int, before: TableConfig) -> str:
    """Fail the interrupted run now and return the line that says what it left behind.

    A hop counts as committed when the engine recorded its success during this run (its
    publication, or its load's transaction, and its watermark went together); any other hop
    published nothing and kept its watermark, which the crash-safety guarantees promise for a
    run stopped at any point.
    """
    run = repo.get_run(run_id)
    after = repo.get_table(run.source_tablename)
    committed: list[Hop] = []
    for hop in HopChoice(run.hop).hops():
        was, now = before.hop(hop), after.hop(hop)
        if now.last_run_status == "success" and now.last_run_at != was.last_run_at:
            committed.append(hop)
    if not committed:
        line = f"run {run_id} interrupted; nothing published, watermark unchanged"
    else:
        parts = []
        for hop in HopChoice(run.hop).hops():
            if hop in committed:
                was_mark = before.hop(hop).last_incremental_value or "-"
                mark = after.hop(hop).last_incremental_value or "-"
                parts.append(f"{hop.value} committed (watermark {was_mark} -> {mark})")
            else:
                parts.append(f"{hop.value}: nothing published, watermark unchanged")
        line = f"run {run_id} interrupted; " + "; ".join(parts)
    hops = [hop for hop in unfinished_hops(repo, run_id) if hop not in committed]
    if not repo.fail_abandoned(run, "interrupted", hops, message=line):
        finished = repo.get_run(run_id)
        return f"interrupted after run {run_id} ended ({finished.status.value})"
    return line
