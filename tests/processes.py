"""The process table, as tests of process supervision read it."""

from __future__ import annotations

from pathlib import Path


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
