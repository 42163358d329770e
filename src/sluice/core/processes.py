"""Is a process still there? On the same host, a direct look at /proc (pids are reused, so a
process is named by its pid and its start time)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def process_gone(pid: int, started: str | None) -> bool:
    """True when that process no longer exists (or its pid now belongs to another process)."""
    current = start_time(pid)
    if current is None:
        return True
    return bool(started) and current != started


def process_name(thread: int) -> str:
    """This process (and a thread of it) as `host:pid:start:thread`, for `name_gone`."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{start_time(pid) or ''}:{thread}"


def name_gone(name: str) -> bool:
    """Whether the process a `process_name` names is seen to be gone: on this host only
    (elsewhere nothing can be seen, and this answers False)."""
    host, pid, started, _thread = [*name.rsplit(":", 3), "", "", ""][:4]
    return host == socket.gethostname() and pid.isdigit() and process_gone(int(pid), started)
