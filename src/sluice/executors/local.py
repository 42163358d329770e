"""Runs every pool's stages in this process: the default, and what a worker does per task."""

from __future__ import annotations

from collections.abc import Callable

from sluice.engine.executor import StageTask
from sluice.engine.services import Services
from sluice.engine.stage_runner import run_stage
from sluice.stages.context import StageResult


class LocalExecutor:
    def __init__(self, services: Services) -> None:
        self.services = services

    def execute(self, task: StageTask, progress: Callable[[int], None]) -> StageResult:
        return run_stage(self.services, task.run_id, task.stage_order, progress, task.scope)
