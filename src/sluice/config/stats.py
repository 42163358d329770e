"""Figures over the run history, for the dashboard (a time window) and for /metrics (totals).

Window figures read only the runs and stage logs inside the window, through the indexes of
revision 0005, so their cost follows the activity in the window, not the length of the
history. Per-day and per-stage-type figures are one small indexed query per day or type, joined
with UNION ALL: grouping many small sets is far cheaper than sorting one large one (on SQLite,
5-10 times for a month of busy history).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa

from sluice.config import schema as s
from sluice.config.store import Store
from sluice.core.models import Hop, RunStatus

runs = s.pipeline_runs_master
logs = s.pipeline_run_stage_logs

LOAD_STAGE = "load"  # its rows are the rows loaded into the sink
# The stage type whose rows count as moved by each hop.
MOVING_STAGES = {"extract": Hop.SOURCE_TO_DL, LOAD_STAGE: Hop.DL_TO_SINK}
FINISHED = (RunStatus.SUCCESS.value, RunStatus.FAILED.value)


@dataclass(frozen=True)
class Window:
    """Whole UTC days, the last of them today: [since, until)."""

    days: tuple[date, ...]

    @classmethod
    def last_days(cls, count: int, now: datetime) -> Window:
        today = now.astimezone(UTC).date()
        return cls(tuple(today - timedelta(days=n) for n in range(count - 1, -1, -1)))

    @staticmethod
    def bounds(day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start, start + timedelta(days=1)

    @property
    def since(self) -> datetime:
        return self.bounds(self.days[0])[0]

    @property
    def until(self) -> datetime:
        return self.bounds(self.days[-1])[1]

    def params(self) -> dict[str, Any]:
        """Values for the bound parameters of the window queries."""
        found: dict[str, Any] = {"since": self.since, "until": self.until}
        for i, day in enumerate(self.days):
            found[f"start_{i}"], found[f"end_{i}"] = self.bounds(day)
            found[f"day_{i}"] = day.isoformat()
        return found


@dataclass(frozen=True)
class DayRuns:
    day: date
    by_status: dict[str, int]


@dataclass(frozen=True)
class TableDayRows:
    table: str
    day: date
    rows: int


@dataclass(frozen=True)
class StageDuration:
    stage_type: str
    count: int
    mean_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class Figures:
    """The dashboard's figures over one window."""

    runs_by_status: dict[str, int]
    runs_per_day: list[DayRuns]
    rows_loaded_per_day: list[TableDayRows]
    stage_durations: list[StageDuration]


@dataclass(frozen=True)
class Totals:
    """Sums over the stage logs up to `last_id`; `open_ids` were still running then."""

    last_id: int
    open_ids: set[int]
    rows: dict[tuple[str, Hop], int]
    durations: dict[str, tuple[int, float]]  # stage type -> (count, seconds)


@dataclass(frozen=True)
class FinishedLog:
    """A stage log as /metrics counts it."""

    id: int
    table: str
    stage_type: str | None
    status: str
    rows: int
    seconds: float | None


def _seconds(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _count_by_status() -> list[sa.ColumnElement[int]]:
    return [
        sa.func.count().filter(runs.c.status == status.value).label(status.value)
        for status in RunStatus
    ]


# The window queries are built once per shape (number of days or stage types, one table or
# all) with bound parameters, so a request only binds values: building and keying a union of
# dozens of selects costs as much as running it.
def _day(i: int) -> tuple[sa.BindParameter[Any], sa.BindParameter[Any]]:
    return sa.bindparam(f"start_{i}"), sa.bindparam(f"end_{i}")


@cache
def _runs_by_status_query(by_table: bool) -> tuple[sa.Executable, sa.Executable]:
    """Runs started in the window by status, and the runs not started yet (pending)."""
    started = sa.select(*_count_by_status()).where(
        runs.c.started_at >= sa.bindparam("since"), runs.c.started_at < sa.bindparam("until")
    )
    pending = sa.select(sa.func.count()).where(
        runs.c.status == RunStatus.PENDING.value, runs.c.started_at.is_(None)
    )
    if by_table:
        started = started.where(runs.c.source_tablename == sa.bindparam("table"))
        pending = pending.where(runs.c.source_tablename == sa.bindparam("table"))
    return started, pending


@cache
def _runs_per_day_query(days: int, by_table: bool) -> sa.Executable:
    parts = []
    for i in range(days):
        start, end = _day(i)
        label = sa.bindparam(f"day_{i}", type_=sa.String).label("day")
        part = sa.select(label, *_count_by_status()).where(
            runs.c.started_at >= start, runs.c.started_at < end
        )
        if by_table:
            part = part.where(runs.c.source_tablename == sa.bindparam("table"))
        parts.append(part)
    return sa.union_all(*parts)


@cache
def _rows_loaded_query(days: int, by_table: bool) -> sa.Executable:
    """Rows the load stage put into each table's sink, per day (by stage start)."""
    parts = []
    for i in range(days):
        start, end = _day(i)
        part = (
            sa.select(
                runs.c.source_tablename,
                sa.bindparam(f"day_{i}", type_=sa.String).label("day"),
                sa.func.sum(logs.c.rows_processed).label("rows"),
            )
            .select_from(logs.join(runs, runs.c.id == logs.c.pipeline_run_id))
            .where(
                logs.c.stage_type == LOAD_STAGE,
                logs.c.started_at >= start,
                logs.c.started_at < end,
                logs.c.status == RunStatus.SUCCESS.value,
            )
            .group_by(runs.c.source_tablename)
        )
        if by_table:
            part = part.where(runs.c.source_tablename == sa.bindparam("table"))
        parts.append(part)
    return sa.union_all(*parts)


@cache
def _durations_query(types: int, by_table: bool) -> sa.Executable:
    """Finished stages of each type started in the window: how many, mean and max seconds.

    time_taken is written when a stage finishes (success or failed), so counting it skips
    running stages without reading their status.
    """
    seconds = sa.cast(logs.c.time_taken, sa.Float)
    parts = []
    for i in range(types):
        stage_type = sa.bindparam(f"type_{i}", type_=sa.String)
        part = sa.select(
            stage_type.label("stage_type"),
            sa.func.count(logs.c.time_taken).label("count"),
            sa.func.avg(seconds).label("mean"),
            sa.func.max(seconds).label("max"),
        ).where(
            logs.c.stage_type == stage_type,
            logs.c.started_at >= sa.bindparam("since"),
            logs.c.started_at < sa.bindparam("until"),
        )
        if by_table:
            # A list of the table's run ids beats a join: a lookup in a small in-memory
            # list per stage log instead of one into the runs table.
            of_table = sa.select(runs.c.id).where(runs.c.source_tablename == sa.bindparam("table"))
            part = part.where(logs.c.pipeline_run_id.in_(of_table))
        parts.append(part)
    return sa.union_all(*parts)


class RunStats(Store):
    # ---- a time window, for the dashboard -------------------------------------------------
    def figures(self, window: Window, table: str | None, stage_types: Iterable[str]) -> Figures:
        """Every window figure, read in one transaction so they agree with each other."""
        by_table = table is not None
        params = window.params() | {"table": table}
        with self.tx() as c:
            types = set(stage_types) | set(
                c.execute(sa.select(s.pipeline_stages.c.stage_type).distinct()).scalars()
            )
            started, pending = _runs_by_status_query(by_table)
            counts = dict(c.execute(started, params).mappings().one())
            counts[RunStatus.PENDING.value] += int(c.execute(pending, params).scalar_one())
            per_day = c.execute(_runs_per_day_query(len(window.days), by_table), params)
            loaded = c.execute(_rows_loaded_query(len(window.days), by_table), params).all()
            ordered = tuple(sorted(types))
            named = {f"type_{i}": stage_type for i, stage_type in enumerate(ordered)}
            durations = c.execute(_durations_query(len(ordered), by_table), params | named)
            return Figures(
                runs_by_status={status: int(n or 0) for status, n in counts.items()},
                runs_per_day=[
                    DayRuns(
                        day=date.fromisoformat(row["day"]),
                        by_status={st.value: int(row[st.value] or 0) for st in RunStatus},
                    )
                    for row in per_day.mappings()
                ],
                rows_loaded_per_day=sorted(
                    (
                        TableDayRows(str(t), date.fromisoformat(d), int(n or 0))
                        for t, d, n in loaded
                    ),
                    key=lambda r: (r.day, r.table),
                ),
                stage_durations=[
                    StageDuration(
                        stage_type=row["stage_type"],
                        count=int(row["count"]),
                        mean_seconds=_seconds(row["mean"]),
                        max_seconds=_seconds(row["max"]),
                    )
                    for row in durations.mappings()
                    if row["count"]
                ],
            )

    # ---- totals, for /metrics -------------------------------------------------------------
    def runs_by_status_total(self) -> dict[str, int]:
        with self.tx() as c:
            rows = c.execute(
                sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    def totals(self) -> Totals:
        """Rows moved and stage durations of every finished stage log, in one snapshot."""
        with self.tx() as c:
            last = int(c.execute(sa.select(sa.func.max(logs.c.id))).scalar() or 0)
            moved = c.execute(
                sa.select(
                    runs.c.source_tablename, logs.c.stage_type, sa.func.sum(logs.c.rows_processed)
                )
                .select_from(logs.join(runs, runs.c.id == logs.c.pipeline_run_id))
                .where(
                    logs.c.stage_type.in_(list(MOVING_STAGES)),
                    logs.c.status == RunStatus.SUCCESS.value,
                    logs.c.id <= last,
                )
                .group_by(runs.c.source_tablename, logs.c.stage_type)
            ).all()
            seconds = sa.func.coalesce(sa.cast(logs.c.time_taken, sa.Float), 0.0)
            durations = c.execute(
                sa.select(logs.c.stage_type, sa.func.count(), sa.func.sum(seconds))
                .where(logs.c.status.in_(FINISHED), logs.c.id <= last)
                .group_by(logs.c.stage_type)
            ).all()
            # Still running, so not in the sums yet: they belong to active runs.
            unfinished = c.execute(
                sa.select(logs.c.id)
                .select_from(logs.join(runs, runs.c.id == logs.c.pipeline_run_id))
                .where(
                    runs.c.status.in_([RunStatus.PENDING.value, RunStatus.RUNNING.value]),
                    logs.c.status.not_in(FINISHED),
                    logs.c.id <= last,
                )
            ).scalars()
            open_ids = {int(i) for i in unfinished}
        return Totals(
            last_id=last,
            open_ids=open_ids,
            rows={(str(t), MOVING_STAGES[str(st)]): int(n or 0) for t, st, n in moved},
            durations={str(st): (int(n), float(total or 0.0)) for st, n, total in durations if st},
        )

    def logs_after(self, last_id: int, also: Sequence[int]) -> list[FinishedLog]:
        """Stage logs with ids above `last_id` or among `also`, in id order (finished or not)."""
        columns = (
            logs.c.id,
            runs.c.source_tablename,
            logs.c.stage_type,
            logs.c.status,
            logs.c.rows_processed,
            logs.c.time_taken,
        )
        joined = logs.join(runs, runs.c.id == logs.c.pipeline_run_id)
        # Two queries, not one with OR: each is a range or list of primary keys that way.
        wanted = [logs.c.id > last_id]
        if also:
            wanted.append(logs.c.id.in_(list(also)))
        found = {}
        with self.tx() as c:
            for condition in wanted:
                for row in c.execute(sa.select(*columns).select_from(joined).where(condition)):
                    found[int(row[0])] = row
        return [
            FinishedLog(int(i), str(t), st, str(status), int(n or 0), _seconds(secs))
            for i, t, st, status, n, secs in (found[key] for key in sorted(found))
        ]
