"""Named points where a test can kill the process, to prove crash safety (SLUICE_CRASH_AT),
or stop it (SLUICE_PAUSE_AT), to prove fencing.

Off unless the environment names a point. SLUICE_CRASH_AT SIGKILLs the process there, with
no chance to clean up, exactly as a power cut or the OOM killer would. SLUICE_PAUSE_AT
SIGSTOPs it there, heartbeat thread and all, as a long GC pause or a frozen VM would: the
test lets the run be reaped, then sends SIGCONT and watches what the stale stage does.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "extract:between_batches",
    "lake:before_manifest",
    "lake:before_publish",
    "lake:before_iceberg_commit",
    "lake:after_iceberg_commit",
    "lake:after_manifest",
    "load:inside_transaction",
    "load:after_commit",
)
# Points of a compaction (stages/compaction.py), which runs after hop 2's load or by hand.
COMPACTION_POINTS = (
    "compaction:before_commit",
    "compaction:after_commit",
    "compaction:after_manifest",
)
# Points of `sluice key rotate` (config/keys.py), apart from a run's points above.
KEY_POINTS = ("key:before_commit", "key:after_commit")


def crash_point(name: str) -> None:
    if os.environ.get("SLUICE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("SLUICE_PAUSE_AT") == name:
        os.kill(os.getpid(), signal.SIGSTOP)
