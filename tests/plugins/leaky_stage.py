"""A stage whose error quotes a secret, as a careless plugin or driver message might
(loaded via SLUICE_STAGE_MODULES): the engine must scrub it from every record of the run."""

from __future__ import annotations

import os
from typing import ClassVar

from sluice.core.errors import TerminalError
from sluice.core.models import Hop
from sluice.stages.context import StageContext, StageResult
from sluice.stages.registry import StageType


class LeakSecret(StageType):
    name: ClassVar[str] = "test_leak_secret"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        raise TerminalError(f"could not sign the request with {os.environ['SLUICE_TEST_LEAK']}")
