"""One active run per (table, hop), dead runs reaped, transient failures retried."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from sluice.config.runs import Worker
from sluice.core.clock import utcnow
from sluice.core.errors import TerminalError, TransientError
from sluice.core.models import Hop, HopChoice, TriggeredBy
from sluice.engine.runner import RunEngine
from sluice.engine.services import Services
from sluice.engine.settings import EngineSettings
from sluice.executors.local import LocalExecutor
from sluice.stages.context import StageContext, StageResult
from sluice.stages.registry import StageType
from tests.conftest import PROJECT, Sluice

FAST = EngineSettings(
    heartbeat_interval=0.2,
    heartbeat_timeout=timedelta(seconds=30),
    max_attempts=3,
    retry_base=0.01,
    retry_cap=0.05,
)


def dead_worker() -> Worker:
    """The identity of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Worker(host=os.uname().nodename, pid=child.pid, started="1")


def test_a_second_run_of_the_same_hop_is_refused_with_the_active_run_id(
    configured: Sluice, services: Services
) -> None:
    engine = RunEngine(services, LocalExecutor(services), FAST)
    active = engine.create("Genre", HopChoice.SOURCE_TO_DL, TriggeredBy.SCHEDULE)
    refused = configured("run Genre")
    assert refused.code == 5
    assert f"already being run by run {active.id}" in refused.err
    refused = configured("run Genre --hop source_to_dl")
    assert refused.code == 5
    other_hop = configured("run Genre --hop dl_to_sink")
    assert other_hop.code == 1  # allowed to start; fails only because the lake is still empty
    assert "no committed batch" in other_hop.err
    engine.execute(active.id)
    configured("run Genre", ok=True)


def test_a_run_whose_process_died_is_reaped_at_once(configured: Sluice, services: Services) -> None:
    orphan = services.repo.create_run(
        "Genre",
        "default",
        "all",
        "manual",
        services.repo.list_stages("default"),
        worker=dead_worker(),
    )
    services.repo.start_run(orphan.id, dead_worker())
    result = configured("run Genre --json", ok=True).json()
    assert result["status"] == "success"
    shown = configured(f"runs show {orphan.id} --json").json()
    assert shown["status"] == "failed"
    assert "was abandoned" in shown["error_message"] and "is gone" in shown["error_message"]


def test_a_silent_run_on_another_host_is_reaped_after_the_timeout(
    configured: Sluice, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = Worker(host="another-host", pid=1, started="1")
    orphan = services.repo.create_run(
        "Genre", "default", "all", "api", services.repo.list_stages("default"), worker=elsewhere
    )
    services.repo.update_run(orphan.id, heartbeat_at=utcnow() - timedelta(seconds=90))
    assert configured("run Genre").code == 5  # 90 s of silence is within the default limit
    monkeypatch.setenv("SLUICE_HEARTBEAT_TIMEOUT", "60")
    configured("run Genre", ok=True)
    shown = configured(f"runs show {orphan.id} --json").json()
    assert "no heartbeat for" in shown["error_message"]
    table = configured("table show Genre --json", ok=True).json()
    assert table["source_to_dl"]["last_run_status"] == "success"


def test_running_runs_heartbeat(services: Services) -> None:
    engine = RunEngine(services, LocalExecutor(services), FAST)
    run = engine.create("Genre", HopChoice.ALL, TriggeredBy.MANUAL)
    before = services.repo.get_run(run.id).heartbeat_at
    finished = engine.execute(run.id)
    assert finished.heartbeat_at is not None and before is not None
    assert finished.heartbeat_at >= before
    assert finished.worker_pid == os.getpid()


class Flaky(StageType):
    """A test stage that fails transiently a set number of times, then succeeds."""

    name: ClassVar[str] = "test_flaky"
    hop: ClassVar[Hop] = Hop.DL_TO_SINK
    failures: ClassVar[int] = 0
    calls: ClassVar[int] = 0

    def run(self, ctx: StageContext) -> StageResult:
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise TransientError(f"connection reset (call {type(self).calls})")
        return StageResult(rows=7)


class Broken(StageType):
    name: ClassVar[str] = "test_broken"
    hop: ClassVar[Hop] = Hop.DL_TO_SINK
    calls: ClassVar[int] = 0

    def run(self, ctx: StageContext) -> StageResult:
        type(self).calls += 1
        raise TerminalError("bad credentials")


@pytest.mark.parametrize(("failures", "status", "attempts"), [(2, "success", 3), (5, "failed", 3)])
def test_transient_errors_are_retried_with_backoff(
    configured: Sluice, services: Services, failures: int, status: str, attempts: int
) -> None:
    Flaky.failures, Flaky.calls = failures, 0
    services.repo.add_stage("flaky", 1, "Flaky", "test_flaky", None)
    configured("table edit Genre --pipeline flaky", ok=True)
    engine = RunEngine(services, LocalExecutor(services), FAST)
    finished = engine.execute(engine.create("Genre", HopChoice.ALL, TriggeredBy.MANUAL).id)
    assert finished.status.value == status
    log = services.repo.stage_logs(finished.id)[0]
    assert log.attempts == attempts
    if status == "failed":
        assert "gave up after 3 attempts" in (log.error_message or "")
    else:
        assert log.rows_processed == 7


def test_terminal_errors_fail_at_once(configured: Sluice, services: Services) -> None:
    Broken.calls = 0
    services.repo.add_stage("broken", 1, "Broken", "test_broken", None)
    configured("table edit Genre --pipeline broken", ok=True)
    engine = RunEngine(services, LocalExecutor(services), FAST)
    finished = engine.execute(engine.create("Genre", HopChoice.ALL, TriggeredBy.MANUAL).id)
    assert finished.status.value == "failed"
    assert Broken.calls == 1
    assert services.repo.stage_logs(finished.id)[0].attempts == 1


def test_scheduler_runs_and_listings_at_once_never_see_database_is_locked(
    configured: Sluice, workdir: Path
) -> None:
    """A scheduler pass, four `sluice run` processes and listings at once, default SQLite."""
    for name in ("Artist", "Album", "MediaType"):
        configured(f"table add {name} --source chinook --destination wh", ok=True)
    sluice_bin = [sys.executable, "-m", "sluice"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src")}
    runs = [
        subprocess.Popen(
            [*sluice_bin, "run", name, "--hop", "source_to_dl"],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("Genre", "Artist", "Album", "MediaType")
    ]
    scheduler = subprocess.Popen(
        [*sluice_bin, "scheduler", "--once", "--max-concurrent", "8"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listings = [
        subprocess.run(
            [*sluice_bin, "runs", "--json"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        for _ in range(5)
    ]
    outputs = [(p.wait(), *p.communicate()) for p in runs]
    for code, out, err in outputs:
        # 5: the scheduler started that hop first, which is the lock doing its job
        assert code == 0 or (code == 5 and "already being run" in err), out + err
        assert "locked" not in out + err
    for listing in listings:
        assert listing.returncode == 0, listing.stderr
        assert "locked" not in listing.stderr
    scheduled_out, scheduled_err = scheduler.communicate(timeout=120)
    assert scheduler.returncode == 0, scheduled_err
    assert "locked" not in scheduled_out + scheduled_err
