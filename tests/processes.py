"""Processes for tests: the real `sluice` in a child (so crash points can kill it), and the
process table, as tests of process supervision read it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def sluice_process(
    workdir: Path, *args: str, crash_at: str | None = None, batch_rows: int = 40
) -> subprocess.CompletedProcess[str]:
    """`python -m sluice ARGS` in `workdir`, killed at `crash_at` (SLUICE_CRASH_AT) if given."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "SLUICE_READ_BATCH_ROWS": str(batch_rows),
    }
    env.pop("SLUICE_CRASH_AT", None)
    if crash_at:
        env["SLUICE_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "sluice", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def zombie_children(pid: int) -> list[int]:
    """Children of `pid` that exited and were not reaped (<defunct> in ps)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
