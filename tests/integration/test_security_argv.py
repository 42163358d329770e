"""No secret on a child's command line: runs started by the scheduler or `sluice serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sluice.engine.services import Services
from sluice.scheduler.daemon import Scheduler, SubprocessLauncher
from tests.conftest import CHINOOK_SQLITE, PROJECT, Sluice

pytestmark = pytest.mark.postgres
PASSWORD = "Pw-in-the-url-7731"


def command_lines() -> list[str]:
    """Every process's argv as `ps` shows it (any local user can read these)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:  # it ended meanwhile
                continue
    return found


@pytest.fixture
def slow_table(
    sluice: Sluice, pg_database: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Sluice:
    """A PostgreSQL config database whose URL carries a password, and a table whose hop 1
    takes 3 seconds."""
    # PostgreSQL here trusts local connections, so the password is carried but not needed.
    url = pg_database.replace("postgres@", f"postgres:{PASSWORD}@")
    monkeypatch.setenv("SLUICE_CONFIG_DB", url)
    monkeypatch.setenv("PYTHONPATH", f"{PROJECT}{os.pathsep}{PROJECT / 'src'}")
    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.slow_stages")
    monkeypatch.setenv("SLUICE_TEST_SLEEP", "3")
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(f'destination add wh --type sqlite --creds \'{{"path": "{workdir / "w"}"}}\'', ok=True)
    sluice("stages add --pipeline slow --order 1 --type test_sleep --name Sleep", ok=True)
    sluice("table add Genre --source chinook --destination wh --pipeline slow", ok=True)
    sluice("table pause Genre --hop dl_to_sink", ok=True)
    return sluice


def test_run_children_get_the_config_url_through_their_environment(slow_table: Sluice) -> None:
    sluice = slow_table
    services = Services.open(None)
    launcher = SubprocessLauncher(services.config_url)
    try:
        assert Scheduler(services, launcher).tick().started
        [child] = launcher.children.values()
        deadline = time.monotonic() + 20
        while services.repo.count_active() and time.monotonic() < deadline:
            lines = command_lines()
            mine = [line for line in lines if "runs execute" in line]
            assert mine, "the run's process is not in the process table"
            assert not [line for line in lines if PASSWORD in line]
            # Its environment carries the URL, readable by its owner only (and root).
            environ = Path(f"/proc/{child.pid}/environ")
            if environ.exists():
                assert environ.stat().st_mode & 0o077 == 0
            time.sleep(0.2)
        assert child.wait(timeout=20) == 0
        assert sluice("runs --json", ok=True).json()[0]["status"] == "success"
    finally:
        launcher.stop_all()
        services.close()


def test_runs_started_through_the_api_show_no_secret_either(slow_table: Sluice) -> None:
    token = slow_table("token create --role admin", ok=True).out.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "sluice", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        request = urllib.request.Request(
            f"{base}/api/tables/Genre/runs",
            data=b'{"hop": "source_to_dl"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            run_id = json.load(answer)["run_id"]
        seen = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = command_lines()
            assert not [line for line in lines if PASSWORD in line]
            if any(f"runs execute {run_id}" in line for line in lines):
                seen = True
            elif seen:
                break  # it ran and ended
            time.sleep(0.2)
        assert seen, "the run's process never showed in the process table"
        shown = slow_table(f"runs show {run_id} --json", ok=True).json()
        assert shown["status"] == "success"
    finally:
        server.terminate()
        server.wait(timeout=30)
