"""No secret on a child's command line: runs started by the scheduler or `sluice serve`."""

from __future__ import annotations

import os
import time
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


def test_run_children_get_the_config_url_through_their_environment(
    sluice: Sluice, pg_database: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
