"""A stage task the broker delivers twice never runs twice at once (executors/claims.py).

The deliveries are two threads calling what a worker's task calls, on the real config
database: the second waits while the first's claim beats, then gives the first's answer;
once a claim goes stale (its worker died without answering), the next delivery runs the stage.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from sluice.config import schema as s
from sluice.core.clock import utcnow
from sluice.engine.services import Services
from sluice.executors import claims
from tests.conftest import Sluice


def _run_id(services: Services) -> int:
    run = services.repo.create_run(
        "Genre", "default", "all", "manual", services.repo.list_stages("default")
    )
    return run.id


def test_a_second_delivery_waits_and_gives_the_first_one_s_answer(
    configured: Sluice, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "CLAIM_BEAT_S", 0.1)
    monkeypatch.setattr(claims, "WAIT_S", 0.05)
    run_id = _run_id(services)
    ran: list[str] = []
    started = threading.Event()

    def stage() -> dict[str, Any]:
        ran.append(threading.current_thread().name)
        started.set()
        time.sleep(1.0)  # longer than the claim's beat: it stays fresh while the stage runs
        return {"rows": 42, "file_paths": [], "warnings": []}

    answers: dict[str, dict[str, Any]] = {}

    def deliver(name: str) -> None:
        answers[name] = claims.run_once(services.repo, "task-1", run_id, stage)

    first = threading.Thread(target=deliver, args=("first",), name="first")
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=deliver, args=("second",), name="second")
    second.start()
    first.join(10)
    second.join(10)
    assert ran == ["first"]
    assert answers["first"] == answers["second"] == {"rows": 42, "file_paths": [], "warnings": []}
    # A delivery after the answer gives it at once.
    assert claims.run_once(services.repo, "task-1", run_id, stage)["rows"] == 42
    assert ran == ["first"]


def test_a_stale_claim_is_taken_over_and_the_stage_run_again(
    configured: Sluice, services: Services
) -> None:
    run_id = _run_id(services)
    # A delivery whose worker died mid-stage: claimed, never answered, its beat long gone.
    long_ago = timedelta(seconds=claims.CLAIM_STALE_S + 5)
    assert services.repo.take_stage("task-2", run_id, "dead:1:1", timedelta(0)) is None
    with services.repo.tx() as c:
        c.execute(
            s.sluice_stage_claims.update()
            .where(s.sluice_stage_claims.c.task_id == "task-2")
            .values(beat_at=utcnow() - long_ago)
        )
    answer = claims.run_once(
        services.repo, "task-2", run_id, lambda: {"rows": 7, "file_paths": [], "warnings": []}
    )
    assert answer["rows"] == 7
    held = services.repo.take_stage("task-2", run_id, "someone:2:2", timedelta(seconds=30))
    assert held is not None and held.answer == answer and held.claimed_by != "dead:1:1"


def test_a_claim_whose_process_is_gone_on_this_host_is_taken_over_at_once(
    configured: Sluice, services: Services
) -> None:
    """A worker killed on this machine is seen to be gone: its task's next delivery runs the
    stage without waiting for the claim to go stale."""
    run_id = _run_id(services)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claimer = f"{socket.gethostname()}:{dead.pid}:1:1"
    assert services.repo.take_stage("task-3", run_id, claimer, timedelta(0)) is None
    started = time.monotonic()
    answer = claims.run_once(
        services.repo, "task-3", run_id, lambda: {"rows": 3, "file_paths": [], "warnings": []}
    )
    assert answer["rows"] == 3
    assert time.monotonic() - started < claims.CLAIM_STALE_S / 2
