"""Bodies of the run, stats and health endpoints."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from sluice.api.schemas import Body
from sluice.config.history import StageBrief
from sluice.config.records import RunRecord, StageLogRecord
from sluice.core.models import HopChoice, RunStatus


def _seconds(text: str | None) -> float | None:
    """time_taken is stored as text (seconds); a database made elsewhere may hold anything."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class RunIn(Body):
    hop: HopChoice = Field(default=HopChoice.ALL, description="Which hop(s) to run.")
    pipeline: str | None = Field(default=None, description="Stage template (default: table's).")


class RunStarted(BaseModel):
    run_id: int
    status: RunStatus
    url: str = Field(description="Where to follow it: GET this for status and stages.")


class StageSummary(BaseModel):
    stage_order: int
    stage_name: str | None
    stage_type: str | None
    status: str
    rows_processed: int | None = Field(
        description="Rows so far while the stage runs (written about once a second), then all."
    )
    time_taken: float | None = Field(description="Seconds.")
    started_at: datetime | None = None

    @classmethod
    def of(cls, log: StageBrief | StageLogRecord) -> StageSummary:
        return cls(
            stage_order=log.stage_order,
            stage_name=log.stage_name,
            stage_type=log.stage_type,
            status=log.status,
            rows_processed=log.rows_processed,
            time_taken=_seconds(log.time_taken),
            started_at=log.started_at,
        )


class StageLog(StageSummary):
    file_paths: list[str]
    completed_at: datetime | None
    error_message: str | None
    attempts: int | None
    warnings: list[str] = Field(
        default_factory=list, description="What the stage applied that you should know of."
    )

    @classmethod
    def full(cls, log: StageLogRecord) -> StageLog:
        return cls(
            **StageSummary.of(log).model_dump(),
            file_paths=log.file_paths,
            completed_at=log.completed_at,
            error_message=log.error_message,
            attempts=log.attempts,
            warnings=log.warnings,
        )


class RunBase(BaseModel):
    id: int
    source_tablename: str
    pipeline_name: str | None
    hop: str
    status: RunStatus
    current_stage: int
    total_stages: int
    triggered_by: str | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None = Field(description="From start to completion.")
    error_message: str | None
    reload: bool = Field(default=False, description="Started by `sluice table reload`.")

    @staticmethod
    def fields(run: RunRecord) -> dict[str, object]:
        duration = None
        if run.started_at and run.completed_at:
            duration = round((run.completed_at - run.started_at).total_seconds(), 3)
        return {
            "id": run.id,
            "source_tablename": run.source_tablename,
            "pipeline_name": run.pipeline_name,
            "hop": run.hop,
            "status": run.status,
            "current_stage": run.current_stage,
            "total_stages": run.total_stages,
            "triggered_by": run.triggered_by,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "duration_seconds": duration,
            "error_message": run.error_message,
            "reload": run.reload,
        }


class RunSummary(RunBase):
    stages: list[StageSummary] = Field(description="The stages logged so far, in order.")

    @classmethod
    def of(cls, run: RunRecord, logs: list[StageBrief]) -> RunSummary:
        return cls.model_validate(
            {**cls.fields(run), "stages": [StageSummary.of(log) for log in logs]}
        )


class Run(RunBase):
    heartbeat_at: datetime | None = Field(description="Last sign of life of its process.")
    stages: list[StageLog]

    @classmethod
    def of(cls, run: RunRecord, logs: list[StageLogRecord]) -> Run:
        return cls.model_validate(
            {
                **cls.fields(run),
                "heartbeat_at": run.heartbeat_at,
                "stages": [StageLog.full(log) for log in logs],
            }
        )


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )


# ---- stats -----------------------------------------------------------------------------------
class DayOutcomes(BaseModel):
    day: date
    pending: int
    running: int
    success: int
    failed: int


class TableDayRows(BaseModel):
    table: str
    day: date
    rows: int


class StageTypeDuration(BaseModel):
    stage_type: str
    count: int = Field(description="Finished stages of this type in the window.")
    mean_seconds: float | None
    max_seconds: float | None


class Stats(BaseModel):
    since: datetime = Field(description="Start of the window (UTC midnight), inclusive.")
    until: datetime = Field(description="End of the window, exclusive.")
    table: str | None
    runs_by_status: dict[str, int] = Field(
        description="Runs started in the window by status; pending: runs not started yet."
    )
    success_rate: float | None = Field(
        description="success / (success + failed) of the window's runs; null without any."
    )
    runs_per_day: list[DayOutcomes]
    rows_loaded_per_day: list[TableDayRows] = Field(
        description="Rows the load stage put into the sink, per table and day."
    )
    stage_durations: list[StageTypeDuration]


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable when the config database is not.")
    revision: str | None = Field(description="Config database schema revision.")
    version: str


class SchedulerStatus(BaseModel):
    running: bool = Field(
        description="A scheduler holds the lease now; when false, due hops do not start on "
        "their own."
    )
    holder: str | None = Field(description="host:pid:tag of the lease holder (or the last one).")
    lease_expires_at: datetime | None
    last_pass_at: datetime | None = Field(description="When the holder last finished a pass.")
    last_pass_age_seconds: float | None
