"""Ctrl-C or SIGTERM during `sluice run`: failed at once, one line saying what committed, 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHINOOK_SQLITE, PROJECT, Sluice


@pytest.fixture
def slow(sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sluice]:
    monkeypatch.setenv("PYTHONPATH", f"{PROJECT}{os.pathsep}{PROJECT / 'src'}")
    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.slow_stages")
    monkeypatch.setenv("SLUICE_TEST_SLEEP", "60")
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(
        f'destination add wh --type sqlite --creds \'{{"path": "{workdir / "wh.db"}"}}\'', ok=True
    )
    sluice("table add Genre --source chinook --destination wh", ok=True)
    sluice("run Genre", ok=True)  # both hops have a last status: success
    sluice("stages add --pipeline slow --order 1 --type test_sleep --name Sleep", ok=True)
    for order, kind in ((2, "check_sink"), (3, "load"), (4, "verify_sink")):
        sluice(f"stages add --pipeline slow --order {order} --type {kind} --name {kind}", ok=True)
    sluice("table edit Genre --pipeline slow", ok=True)
    yield sluice


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_fails_at_once_and_says_so(
    slow: Sluice, workdir: Path, sig: signal.Signals
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "sluice", "run", "Genre"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = slow("runs --json", ok=True).json()
        if runs[0]["status"] == "running" and runs[0]["current_stage"] == 1:
            break
        time.sleep(0.2)
    else:
        child.kill()
        pytest.fail("the run never started its sleeping stage")
    time.sleep(0.5)
    child.send_signal(sig)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    run_id = slow("runs --json", ok=True).json()[0]["id"]
    line = f"run {run_id} interrupted; nothing published, watermark unchanged"
    assert line in err + out, (out, err)
    assert "Traceback" not in err + out
    shown = slow(f"runs show {run_id} --json")
    assert shown.code == 1  # a failed run's show exits non-zero
    run = shown.json()
    assert run["status"] == "failed" and run["error_message"] == line
    assert [s["status"] for s in run["stages"]] == ["failed"]
    hops = {r["hop"]: r for r in slow("status --json", ok=True).json()}
    assert hops["source_to_dl"]["last_status"] == "failed"
    assert hops["dl_to_sink"]["last_status"] == "success"  # hop 2 never ran: as it was
    assert slow("run Genre --pipeline default").code == 0  # nothing left locked
