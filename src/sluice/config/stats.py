"""Figures over the run history, for the dashboard (a time window) and for /metrics (totals).

A window is whole UTC days. Its past days are read from a daily rollup (revision 0007):
runs per (day, table, status) and stage-log sums per (day, table, stage type), a few thousand
small rows for 90 busy days where the runs and stage logs themselves are hundreds of thousands.
Today, and a past day not rolled up or changed since, are read live, by the same per-day
queries that build the rollup, so a day's figures do not depend on where they were read.

The rollup never goes stale: triggers on the runs and stage logs bump their day's change
counter (sluice_stats_days.changes) in the writer's own transaction, whoever writes (finishing,
reaping, a late stage log, removing a table, another tool), and a day's rows are used only
while they were taken at its current count. Readers roll up what is missing or out of date.

The live queries are one small indexed query per day, joined with UNION ALL: grouping many
small sets is far cheaper than sorting one large one (on SQLite, 5-10 times for a month).
Means are sums of per-day sums over counts, so they can differ from one AVG over the window in
the last bits of a double; counts, rows and maxima are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sluice.config import schema as s
from sluice.config.store import Store
from sluice.core.clock import utcnow
from sluice.core.models import Hop, RunStatus

runs = s.pipeline_runs_master
logs = s.pipeline_run_stage_logs
stats_days = s.sluice_stats_days
day_runs = s.sluice_stats_runs
day_stages = s.sluice_stats_stages

# Past days rolled up per transaction: on SQLite every other writer waits meanwhile.
ROLLUP_DAYS_PER_TX = 10

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


def _day_params(days: Sequence[date]) -> dict[str, Any]:
    """Each day's bounds and label, for the per-day parts of the live queries."""
    found: dict[str, Any] = {}
    for i, day in enumerate(days):
        found[f"start_{i}"], found[f"end_{i}"] = Window.bounds(day)
        found[f"day_{i}"] = day
    return found


# The queries are built once per shape (number of days, one table or all) with bound
# parameters, so a request only binds values: building and keying a union of dozens of selects
# costs as much as running it.
def _day(i: int) -> tuple[sa.BindParameter[Any], sa.BindParameter[Any], sa.Label[Any]]:
    label = sa.bindparam(f"day_{i}", type_=sa.Date).label("day")
    return sa.bindparam(f"start_{i}"), sa.bindparam(f"end_{i}"), label


def _for_table(query: sa.Select[Any], column: sa.ColumnElement[str], by_table: bool) -> Any:
    return query.where(column == sa.bindparam("table")) if by_table else query


@cache
def _pending_query(by_table: bool) -> sa.Executable:
    """Runs not started yet: counted in every window, whatever its days."""
    query = sa.select(sa.func.count()).where(
        runs.c.status == RunStatus.PENDING.value, runs.c.started_at.is_(None)
    )
    return _for_table(query, runs.c.source_tablename, by_table)  # type: ignore[no-any-return]


@cache
def _live_runs_query(days: int, by_table: bool) -> sa.Executable:
    """Runs started on each day, per table and status: a rollup row each."""
    parts = []
    for i in range(days):
        start, end, label = _day(i)
        part = (
            sa.select(label, runs.c.source_tablename, runs.c.status, sa.func.count().label("runs"))
            .where(runs.c.started_at >= start, runs.c.started_at < end)
            .group_by(runs.c.source_tablename, runs.c.status)
        )
        parts.append(_for_table(part, runs.c.source_tablename, by_table))
    return sa.union_all(*parts)


SECONDS = sa.cast(logs.c.time_taken, sa.Float)
SUCCEEDED = logs.c.status == RunStatus.SUCCESS.value
# A stage log whose run is gone (a database without the foreign key) has no table: the
# durations over all tables still count it, as they always did; no table's figures do.
NO_TABLE = ""


@cache
def _live_stages_query(days: int, by_table: bool) -> sa.Executable:
    """Stage logs started on each day, per table and stage type: a rollup row each.

    time_taken is written when a stage finishes (success or failed), so counting it counts
    the finished stages without reading their status. The stage types are a bound list so
    each day is one index range per type (ix_stage_logs_type_started).
    """
    parts = []
    for i in range(days):
        start, end, label = _day(i)
        table = sa.func.coalesce(runs.c.source_tablename, NO_TABLE)
        part = (
            sa.select(
                label,
                table.label("source_tablename"),
                logs.c.stage_type,
                sa.func.count(logs.c.time_taken).label("timed"),
                sa.func.sum(SECONDS).label("seconds_sum"),
                sa.func.max(SECONDS).label("seconds_max"),
                sa.func.count().filter(SUCCEEDED).label("succeeded"),
                sa.func.sum(logs.c.rows_processed).filter(SUCCEEDED).label("rows_processed"),
            )
            .select_from(logs.outerjoin(runs, runs.c.id == logs.c.pipeline_run_id))
            .where(
                logs.c.stage_type.in_(sa.bindparam("types", expanding=True)),
                logs.c.started_at >= start,
                logs.c.started_at < end,
            )
            .group_by(table, logs.c.stage_type)
        )
        parts.append(_for_table(part, runs.c.source_tablename, by_table))
    return sa.union_all(*parts)


# Every stage type in the stage logs, one index seek each (a loose index scan of
# ix_stage_logs_type_started), where SELECT DISTINCT would read the whole index.
STAGE_TYPES = sa.text(
    "WITH RECURSIVE t(stage_type) AS ("
    " SELECT min(stage_type) FROM pipeline_run_stage_logs"
    " UNION ALL SELECT (SELECT min(l.stage_type) FROM pipeline_run_stage_logs l"
    " WHERE l.stage_type > t.stage_type) FROM t WHERE t.stage_type IS NOT NULL)"
    " SELECT stage_type FROM t WHERE stage_type IS NOT NULL"
)


@cache
def _rolled_queries(by_table: bool) -> tuple[sa.Executable, sa.Executable, sa.Executable]:
    """Runs per day and status, rows loaded per day and table, and the duration sums per
    stage type, over the days bound as `rolled`."""
    rolled: sa.BindParameter[list[date]] = sa.bindparam("rolled", expanding=True)
    per_day = (
        sa.select(day_runs.c.day, day_runs.c.status, sa.func.sum(day_runs.c.runs))
        .where(day_runs.c.day.in_(rolled))
        .group_by(day_runs.c.day, day_runs.c.status)
    )
    loaded = sa.select(
        day_stages.c.day, day_stages.c.source_tablename, day_stages.c.rows_processed
    ).where(
        day_stages.c.day.in_(rolled),
        day_stages.c.stage_type == LOAD_STAGE,
        day_stages.c.succeeded > 0,
        day_stages.c.source_tablename != NO_TABLE,
    )
    durations = (
        sa.select(
            day_stages.c.stage_type,
            sa.func.sum(day_stages.c.timed),
            sa.func.sum(day_stages.c.seconds_sum),
            sa.func.max(day_stages.c.seconds_max),
        )
        .where(
            day_stages.c.day.in_(rolled),
            day_stages.c.stage_type.in_(sa.bindparam("types", expanding=True)),
        )
        .group_by(day_stages.c.stage_type)
    )
    return (
        _for_table(per_day, day_runs.c.source_tablename, by_table),
        _for_table(loaded, day_stages.c.source_tablename, by_table),
        _for_table(durations, day_stages.c.source_tablename, by_table),
    )


class _Tally:
    """The window figures, summed from rollup rows and live rows alike."""

    def __init__(self, days: Sequence[date]) -> None:
        self.days = days
        self.runs = {day: dict.fromkeys((st.value for st in RunStatus), 0) for day in days}
        self.loaded: dict[tuple[date, str], int] = {}
        self.timed: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.longest: dict[str, float] = {}

    def add_runs(self, day: date, status: str, count: int) -> None:
        if status in self.runs[day]:  # a status sluice does not know is in no figure
            self.runs[day][status] += count

    def add_loaded(self, day: date, table: str, rows: int | None) -> None:
        self.loaded[(day, table)] = self.loaded.get((day, table), 0) + (rows or 0)

    def add_durations(self, stage_type: str, timed: int, seconds: object, longest: object) -> None:
        if not timed:
            return
        self.timed[stage_type] = self.timed.get(stage_type, 0) + timed
        self.seconds[stage_type] = self.seconds.get(stage_type, 0.0) + (_seconds(seconds) or 0.0)
        top = _seconds(longest)
        if top is not None and (stage_type not in self.longest or top > self.longest[stage_type]):
            self.longest[stage_type] = top

    def figures(self, pending: int, stage_types: Sequence[str]) -> Figures:
        by_status = {
            st.value: sum(counts[st.value] for counts in self.runs.values()) for st in RunStatus
        }
        by_status[RunStatus.PENDING.value] += pending
        return Figures(
            runs_by_status=by_status,
            runs_per_day=[DayRuns(day, self.runs[day]) for day in self.days],
            rows_loaded_per_day=[
                TableDayRows(table, day, rows) for (day, table), rows in sorted(self.loaded.items())
            ],
            stage_durations=[
                StageDuration(
                    stage_type=stage_type,
                    count=self.timed[stage_type],
                    mean_seconds=self.seconds[stage_type] / self.timed[stage_type],
                    max_seconds=self.longest.get(stage_type),
                )
                for stage_type in stage_types
                if stage_type in self.timed
            ],
        )


class RunStats(Store):
    # ---- a time window, for the dashboard -------------------------------------------------
    def figures(self, window: Window, table: str | None, stage_types: Iterable[str]) -> Figures:
        """Every window figure, read in one transaction so they agree with each other.

        Past days whose rollup is missing or out of date are rolled up first (and kept for
        the next reader); a day that changes meanwhile is read live.
        """
        past = [day for day in window.days if day < utcnow().date()]
        with self.read() as c:
            rolled = self._rolled_up(c, past)
            if len(rolled) == len(past):
                return self._read(c, window, table, stage_types, rolled)
        self.roll_up([day for day in past if day not in rolled])
        with self.read() as c:
            return self._read(c, window, table, stage_types, self._rolled_up(c, past))

    @staticmethod
    def _rolled_up(c: sa.Connection, days: Sequence[date]) -> set[date]:
        """The days among `days` whose rollup rows are current."""
        if not days:
            return set()
        query = sa.select(stats_days.c.day).where(
            stats_days.c.day.in_(days), stats_days.c.rolled_up == stats_days.c.changes
        )
        return set(c.execute(query).scalars())

    def _read(
        self,
        c: sa.Connection,
        window: Window,
        table: str | None,
        stage_types: Iterable[str],
        rolled: set[date],
    ) -> Figures:
        by_table = table is not None
        types = sorted(
            set(stage_types)
            | set(c.execute(sa.select(s.pipeline_stages.c.stage_type).distinct()).scalars())
        )
        tally = _Tally(window.days)
        if rolled:
            per_day, loaded, durations = _rolled_queries(by_table)
            params = {"rolled": sorted(rolled), "table": table, "types": types}
            for day, status, count in c.execute(per_day, params):
                tally.add_runs(day, status, int(count))
            for day, name, rows in c.execute(loaded, params):
                tally.add_loaded(day, name, rows)
            for stage_type, timed, seconds, longest in c.execute(durations, params):
                tally.add_durations(stage_type, int(timed or 0), seconds, longest)
        live = [day for day in window.days if day not in rolled]
        if live:
            params = _day_params(live) | {"table": table, "types": types}
            for day, _table, status, count in c.execute(
                _live_runs_query(len(live), by_table), params
            ):
                tally.add_runs(day, status, int(count))
            for row in c.execute(_live_stages_query(len(live), by_table), params).mappings():
                self._add_stage_row(tally, row)
        pending = int(c.execute(_pending_query(by_table), {"table": table}).scalar_one())
        return tally.figures(pending, types)

    @staticmethod
    def _add_stage_row(tally: _Tally, row: sa.RowMapping) -> None:
        if row["stage_type"] == LOAD_STAGE and row["succeeded"] and row["source_tablename"]:
            tally.add_loaded(row["day"], row["source_tablename"], row["rows_processed"])
        tally.add_durations(
            row["stage_type"], int(row["timed"]), row["seconds_sum"], row["seconds_max"]
        )

    # ---- the daily rollup -----------------------------------------------------------------
    def roll_up(self, days: Sequence[date]) -> None:
        """Compute and store the rollup rows of `days` (past days: today keeps changing).

        A few days per transaction, so SQLite's single write lock is never held for long. On
        PostgreSQL each day's counter row is locked first, skipping those another reader is
        rolling up or a writer is changing (they stay live this time), so two readers never
        write the same rows and a reader never waits for a writer. A day is marked current
        at the change count read before its rows, and only if that count still holds.
        """
        for start in range(0, len(days), ROLLUP_DAYS_PER_TX):
            chunk = list(days[start : start + ROLLUP_DAYS_PER_TX])
            self._add_days(chunk)
            query = (
                sa.select(stats_days.c.day, stats_days.c.changes, stats_days.c.rolled_up)
                .where(stats_days.c.day.in_(chunk))
                .with_for_update(skip_locked=True)
            )
            with self.tx() as c:
                changes = {day: count for day, count, rolled in c.execute(query) if rolled != count}
                if changes:
                    self._store(c, sorted(changes), changes)

    def _add_days(self, days: list[date]) -> None:
        """The days' change counters, committed before their rows are read: from then on
        every writer to those days bumps them, on PostgreSQL too, where a counter still being
        inserted by this transaction would be invisible to the writer's trigger."""
        with self.tx() as c:
            have = set(
                c.execute(sa.select(stats_days.c.day).where(stats_days.c.day.in_(days))).scalars()
            )
            missing = [{"day": day, "changes": 0} for day in days if day not in have]
            if missing:
                try:
                    with c.begin_nested():
                        c.execute(stats_days.insert(), missing)
                except IntegrityError:
                    pass  # another reader added them first; theirs count the same

    @staticmethod
    def _store(c: sa.Connection, days: list[date], changes: dict[date, int]) -> None:
        types = list(c.execute(STAGE_TYPES).scalars())
        params = _day_params(days) | {"types": types}
        run_rows = [
            dict(r) for r in c.execute(_live_runs_query(len(days), False), params).mappings()
        ]
        stage_rows = (
            [dict(r) for r in c.execute(_live_stages_query(len(days), False), params).mappings()]
            if types
            else []
        )
        c.execute(day_runs.delete().where(day_runs.c.day.in_(days)))
        c.execute(day_stages.delete().where(day_stages.c.day.in_(days)))
        if run_rows:
            c.execute(day_runs.insert(), run_rows)
        if stage_rows:
            c.execute(day_stages.insert(), stage_rows)
        for day in days:
            c.execute(
                stats_days.update()
                .where(stats_days.c.day == day, stats_days.c.changes == changes[day])
                .values(rolled_up=changes[day])
            )

    # ---- totals, for /metrics -------------------------------------------------------------
    def runs_by_status_total(self) -> dict[str, int]:
        with self.read() as c:
            rows = c.execute(
                sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    def totals(self) -> Totals:
        """Rows moved and stage durations of every finished stage log, in one snapshot."""
        with self.read() as c:
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
        with self.read() as c:
            for condition in wanted:
                for row in c.execute(sa.select(*columns).select_from(joined).where(condition)):
                    found[int(row[0])] = row
        return [
            FinishedLog(int(i), str(t), st, str(status), int(n or 0), _seconds(secs))
            for i, t, st, status, n, secs in (found[key] for key in sorted(found))
        ]
