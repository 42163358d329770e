"""The executor seam the engine runs stages through: one stage of one run in the pool its
template row names. Executors (local, and later remote workers) implement it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sluice.stages.context import StageResult

if TYPE_CHECKING:
    from sluice.engine.scope import RunScope


@dataclass(frozen=True)
class StageTask:
    """Everything a worker needs to find the stage's work in the config database."""

    run_id: int
    stage_order: int
    pool: str
    log_id: int | None = None  # the attempt's stage log, where a remote worker writes its rows
    # What the engine resolved for the run, for an executor in the same process; one in
    # another process ignores it and resolves its own (engine/scope.py).
    scope: RunScope | None = field(default=None, compare=False, repr=False)


class Executor(Protocol):
    def execute(self, task: StageTask, progress: Callable[[int], None]) -> StageResult: ...
