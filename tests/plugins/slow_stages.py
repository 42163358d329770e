"""Stage types for tests that need a run to take time (loaded via SLUICE_STAGE_MODULES)."""

from __future__ import annotations

import os
import time
from typing import ClassVar

from sluice.core.models import Hop
from sluice.stages.context import StageContext, StageResult
from sluice.stages.registry import StageType


class Sleep(StageType):
    """Sleeps SLUICE_TEST_SLEEP seconds, heartbeating as a real stage would."""

    name: ClassVar[str] = "test_sleep"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        time.sleep(float(os.environ.get("SLUICE_TEST_SLEEP", "30")))
        return StageResult(rows=1)


class Trickle(StageType):
    """Reports rows as a slow read would: 1,000 more every 0.25 s for SLUICE_TEST_SLEEP s."""

    name: ClassVar[str] = "test_trickle"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        steps = int(float(os.environ.get("SLUICE_TEST_SLEEP", "6")) / 0.25)
        for step in range(1, steps + 1):
            time.sleep(0.25)
            ctx.progress(step * 1000)
        return StageResult(rows=steps * 1000)
