"""A live view of a run's stages for terminals, plain lines otherwise."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from sluice.config.records import RunRecord, StageRecord


class LiveRunView:
    """Implements the engine's RunObserver with a Rich progress display."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[rows]:>12} rows"),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self.tasks: dict[int, TaskID] = {}

    def __enter__(self) -> LiveRunView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def run_started(self, run: RunRecord, stages: list[StageRecord]) -> None:
        for stage in stages:
            self.tasks[stage.stage_order] = self.progress.add_task(
                f"{stage.stage_order}. {stage.stage_name} [dim]({stage.stage_type})[/]",
                total=None,
                start=False,
                rows="",
                state="waiting",
            )

    def stage_started(self, stage: StageRecord) -> None:
        task = self.tasks[stage.stage_order]
        self.progress.start_task(task)
        self.progress.update(task, state="running", rows="0")

    def stage_progress(self, stage: StageRecord, rows: int) -> None:
        self.progress.update(self.tasks[stage.stage_order], rows=f"{rows:,}")

    def stage_finished(
        self, stage: StageRecord, status: str, rows: int, seconds: float, error: str | None
    ) -> None:
        task = self.tasks[stage.stage_order]
        colour = "green" if status == "success" else "red"
        self.progress.update(
            task, rows=f"{rows:,}", state=f"[{colour}]{status}[/]", total=1, completed=1
        )
        self.progress.stop_task(task)
        if not self.console.is_terminal:
            line = (
                f"  stage {stage.stage_order} {stage.stage_type}: {status}, {rows} rows, "
                f"{seconds:.3f}s"
            )
            self.console.print(
                line + (f" - {error}" if error else ""), highlight=False, soft_wrap=True
            )
