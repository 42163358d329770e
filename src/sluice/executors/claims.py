"""A stage task run at most once at a time, whatever the broker delivers (config/stage_claims.py).

The worker that claims a task beats its claim every CLAIM_BEAT_S while the stage runs and
stores the stage's answer at the end. A second delivery of the task waits while the claim is
fresh and then gives the stored answer; it runs the stage itself when the claimer died
without an answer (its process gone, seen on the same host, or its claim stale for
CLAIM_STALE_S): the stage is safe to run again, as every stage is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sluice.config.repository import ConfigRepository
from sluice.core.processes import name_gone, process_name

CLAIM_BEAT_S = 5.0
CLAIM_STALE_S = 30.0
WAIT_S = 1.0


def run_once(
    repo: ConfigRepository,
    task_id: str,
    run_id: int,
    body: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """`body`'s answer: run here when this delivery holds the claim, or the answer of the
    delivery that ran it."""
    claimer = process_name(threading.get_ident())
    stale = timedelta(seconds=CLAIM_STALE_S)
    dead: str | None = None
    while True:
        held = repo.take_stage(task_id, run_id, claimer, stale, dead)
        if held is None:
            break
        if held.answer is not None:
            return held.answer
        if name_gone(held.claimed_by):
            dead = held.claimed_by  # taken over at once, by one delivery only
            continue
        time.sleep(WAIT_S)  # its claimer still runs it
    stop = threading.Event()
    beating = threading.Thread(
        target=_beat, args=(repo, task_id, claimer, stop), name="sluice-claim", daemon=True
    )
    beating.start()
    try:
        answer = body()
    finally:
        stop.set()
        beating.join()
    repo.answer_stage(task_id, claimer, answer)
    return answer


def _beat(repo: ConfigRepository, task_id: str, claimer: str, stop: threading.Event) -> None:
    while not stop.wait(CLAIM_BEAT_S):
        repo.beat_stage(task_id, claimer)
