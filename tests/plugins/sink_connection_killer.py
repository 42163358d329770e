"""check_sink and verify_sink whose sink connection the server terminates (loaded via
SLUICE_STAGE_MODULES).

The stages are the real ones under test names; the only difference is that each sink they
open has its backend killed with pg_terminate_backend right after connecting, as long as
the stage's counter (a file named after the stage type in SLUICE_TEST_KILLS_DIR) is above
zero, the way a failover or an idle-session
reaper drops a connection under a running stage.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import psycopg

from sluice.connectors.base import Sink
from sluice.stages.context import StageContext, StageResult
from sluice.stages.sink_stages import CheckSink, VerifySink


def _kill_if_due(sink: Sink, stage: str) -> Sink:
    counter = Path(os.environ["SLUICE_TEST_KILLS_DIR"]) / stage
    left = int(counter.read_text()) if counter.exists() else 0
    if left > 0:
        counter.write_text(str(left - 1))
        pid = sink.query("SELECT pg_backend_pid()")[0][0]  # type: ignore[attr-defined]
        with psycopg.connect(os.environ["SLUICE_TEST_KILL_URL"], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return sink


class _KillingContext:
    """The stage's context, but every sink it opens has lost its connection."""

    def __init__(self, ctx: StageContext, stage: str) -> None:
        self._ctx = ctx
        self._stage = stage

    def __getattr__(self, name: str) -> object:
        return getattr(self._ctx, name)

    def open_sink(self) -> Sink:
        return _kill_if_due(self._ctx.open_sink(), self._stage)


class KilledCheckSink(CheckSink):
    name: ClassVar[str] = "test_check_sink_killed"

    def run(self, ctx: StageContext) -> StageResult:
        return super().run(_KillingContext(ctx, self.name))  # type: ignore[arg-type]


class KilledVerifySink(VerifySink):
    name: ClassVar[str] = "test_verify_sink_killed"

    def run(self, ctx: StageContext) -> StageResult:
        return super().run(_KillingContext(ctx, self.name))  # type: ignore[arg-type]
