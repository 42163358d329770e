"""The executor seam the engine runs stages through: one stage of one run in the pool its
template row names. Executors (local, and later remote workers) implement it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sluice.stages.context import StageResult


@dataclass(frozen=True)
class StageTask:
    """Everything a worker needs to find the stage's work in the config database."""

    run_id: int
    stage_order: int
    pool: str


class Executor(Protocol):
    def execute(self, task: StageTask, progress: Callable[[int], None]) -> StageResult: ...
