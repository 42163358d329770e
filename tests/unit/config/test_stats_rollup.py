"""Dashboard figures served from the daily rollup equal the figures read straight from the runs.

The reference below is the plain definition of each figure (the queries RunStats ran before the
rollup existed), run over a generated history of ~40 days: runs that finish after midnight,
reaped runs, running and pending ones, several tables. Each history is checked on SQLite and on
PostgreSQL, for windows of 1, 7, 30 and 90 days, for all tables and one; then changed the ways
sluice changes a history (reaping, late stage logs, late finishes, a table removed) and checked
again.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sluice.config import schema as s
from sluice.config.database import create_config_engine, resolve_url
from sluice.config.migrate import upgrade
from sluice.config.records import StageRecord
from sluice.config.repository import ConfigRepository
from sluice.config.runs import RunRepository
from sluice.config.stats import DayRuns, Figures, RunStats, StageDuration, TableDayRows, Window
from sluice.core.clock import utcnow
from sluice.core.models import RunStatus
from sluice.stages.registry import stage_types

TABLES = ("orders", "customers", "items")
TYPES = ("check_source", "extract", "verify_lake", "check_sink", "load", "verify_sink")
WINDOWS = (1, 7, 30, 90)
runs = s.pipeline_runs_master
logs = s.pipeline_run_stage_logs


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated config database with three tables, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
    else:
        url = resolve_url(request.getfixturevalue("pg_database"))
    engine = create_config_engine(url)
    upgrade(engine)
    with engine.begin() as c:
        for name in TABLES:
            c.execute(
                s.pipeline_config.insert().values(
                    source_tablename=name,
                    sink_tablename=name,
                    source_to_dl_load_type="full",
                    dl_to_sink_load_type="full",
                )
            )
    yield engine
    engine.dispose()


# ---- the reference: each figure by its definition, read from the runs and stage logs ----------
def reference(engine: Engine, window: Window, table: str | None) -> Figures:
    def of_table(query: sa.Select[Any]) -> sa.Select[Any]:
        return query if table is None else query.where(runs.c.source_tablename == table)

    def started_in(column: sa.ColumnElement[Any], since: datetime, until: datetime) -> Any:
        return sa.and_(column >= since, column < until)

    with engine.connect() as c:
        per_day = []
        for day in window.days:
            counted: dict[str, int] = dict(
                c.execute(
                    of_table(
                        sa.select(runs.c.status, sa.func.count())
                        .where(started_in(runs.c.started_at, *window.bounds(day)))
                        .group_by(runs.c.status)
                    )
                ).all()
            )
            per_day.append((day, {st.value: int(counted.get(st.value, 0)) for st in RunStatus}))
        pending = c.execute(
            of_table(
                sa.select(sa.func.count()).where(
                    runs.c.status == "pending", runs.c.started_at.is_(None)
                )
            )
        ).scalar_one()
        loaded = []
        for day in window.days:
            for name, rows in c.execute(
                of_table(
                    sa.select(runs.c.source_tablename, sa.func.sum(logs.c.rows_processed))
                    .select_from(logs.join(runs, runs.c.id == logs.c.pipeline_run_id))
                    .where(
                        logs.c.stage_type == "load",
                        logs.c.status == "success",
                        started_in(logs.c.started_at, *window.bounds(day)),
                    )
                    .group_by(runs.c.source_tablename)
                )
            ):
                loaded.append((day, name, int(rows or 0)))
        types = sorted(
            set(stage_types())
            | set(c.execute(sa.select(s.pipeline_stages.c.stage_type).distinct()).scalars())
        )
        durations = []
        seconds = sa.cast(logs.c.time_taken, sa.Float)
        for stage_type in types:
            query = sa.select(
                sa.func.count(logs.c.time_taken), sa.func.avg(seconds), sa.func.max(seconds)
            ).where(
                logs.c.stage_type == stage_type,
                started_in(logs.c.started_at, window.since, window.until),
            )
            if table is not None:
                of_it = sa.select(runs.c.id).where(runs.c.source_tablename == table)
                query = query.where(logs.c.pipeline_run_id.in_(of_it))
            count, mean, longest = c.execute(query).one()
            if count:
                durations.append(StageDuration(stage_type, int(count), float(mean), longest))
    by_status = {st.value: sum(d[1][st.value] for d in per_day) for st in RunStatus}
    by_status["pending"] += int(pending)
    return Figures(
        runs_by_status=by_status,
        runs_per_day=[DayRuns(day, counts) for day, counts in per_day],
        rows_loaded_per_day=[TableDayRows(t, d, n) for d, t, n in sorted(loaded)],
        stage_durations=durations,
    )


def assert_same(served: Figures, expected: Figures) -> None:
    """Equal to the last bit, but for means: a sum of daily sums may round differently from
    one AVG (and PostgreSQL's AVG order is the plan's), so those agree to 1e-12."""
    assert served.runs_by_status == expected.runs_by_status
    assert served.runs_per_day == expected.runs_per_day
    assert served.rows_loaded_per_day == expected.rows_loaded_per_day
    assert [replace(d, mean_seconds=None) for d in served.stage_durations] == [
        replace(d, mean_seconds=None) for d in expected.stage_durations
    ]
    for got, want in zip(served.stage_durations, expected.stage_durations, strict=True):
        assert got.mean_seconds == pytest.approx(want.mean_seconds, rel=1e-12)


def check_every_window(engine: Engine) -> None:
    stats = RunStats(engine)
    for days in WINDOWS:
        window = Window.last_days(days, utcnow())
        for table in (None, TABLES[0]):
            assert_same(
                stats.figures(window, table, stage_types()), reference(engine, window, table)
            )


def rolled_up_days(engine: Engine) -> set[Any]:
    d = s.sluice_stats_days
    with engine.connect() as c:
        return set(c.execute(sa.select(d.c.day).where(d.c.rolled_up == d.c.changes)).scalars())


# ---- a generated history -----------------------------------------------------------------------
@dataclass
class History:
    running_runs: list[int]
    running_logs: list[tuple[int, datetime]]  # (log id, started_at)


def generate(engine: Engine, seed: int, days: int = 40) -> History:
    """Runs of every status over the last `days` days, their stage logs in order, some of
    them crossing midnight; the last stage of a running run is still running."""
    rng = random.Random(seed)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    history = History([], [])
    with engine.begin() as c:
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            for _ in range(rng.randint(0, 5)):
                started = day + timedelta(
                    seconds=rng.choice([0, 1, 3600 * 12, 86_399, rng.uniform(0, 86_399)])
                )
                if started > utcnow():
                    continue
                status = rng.choice(["success", "success", "failed", "running", "pending"])
                not_started = status == "pending" and rng.random() < 0.5
                run_id = c.execute(
                    runs.insert()
                    .values(
                        source_tablename=rng.choice(TABLES),
                        pipeline_name="default",
                        status=status,
                        triggered_by="schedule",
                        started_at=None if not_started else started,
                        completed_at=started + timedelta(minutes=30)
                        if status in ("success", "failed")
                        else None,
                        hop="all",
                    )
                    .returning(runs.c.id)
                ).scalar_one()
                if status == "pending":
                    continue
                at = started
                stages = rng.randint(0, 6)
                for order in range(1, stages + 1):
                    at += timedelta(minutes=rng.choice([0, 1, 7, 45]))
                    last = order == stages
                    if status == "running" and last:
                        log_status = "running"
                    elif status == "failed" and last:
                        log_status = "failed"
                    else:
                        log_status = "success"
                    log_id = c.execute(
                        logs.insert()
                        .values(
                            pipeline_run_id=run_id,
                            stage_order=order,
                            stage_type=rng.choice([*TYPES, "load", "custom"]),
                            status=log_status,
                            rows_processed=rng.choice([None, 0, rng.randint(1, 10_000)]),
                            time_taken=None
                            if log_status == "running"
                            else f"{rng.uniform(0.001, 900):.3f}",
                            started_at=at,
                        )
                        .returning(logs.c.id)
                    ).scalar_one()
                    if log_status == "running":
                        history.running_logs.append((int(log_id), at))
                if status == "running":
                    history.running_runs.append(int(run_id))
    return history


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_served_figures_equal_the_figures_read_live(engine: Engine, seed: int) -> None:
    history = generate(engine, seed)
    check_every_window(engine)  # the first reads roll the past days up
    today = utcnow().date()
    assert {today - timedelta(days=n) for n in range(1, 90)} <= rolled_up_days(engine)
    check_every_window(engine)  # now served from the rollup

    # The history changes the ways sluice changes it, and every figure follows.
    repo = RunRepository(engine)
    rng = random.Random(seed)
    for run_id in history.running_runs[::2]:
        assert repo.fail_abandoned(repo.get_run(run_id), "its worker is gone")
    for log_id, _at in history.running_logs[1::2]:
        repo.finish_stage_log(log_id, status="success", rows_processed=7, time_taken="1234.5")
    for run_id in history.running_runs[1::2]:
        repo.finish_run(run_id, RunStatus.SUCCESS, None)
    stage = StageRecord(0, "default", 9, "Late load", "load", None)
    with engine.connect() as c:
        run_ids = list(c.execute(sa.select(runs.c.id)).scalars())
    for back in (3, 17, 33):
        run_id = rng.choice(run_ids)
        late = datetime.now(UTC) - timedelta(days=back)
        log_id = repo.start_stage_log(run_id, stage, late)
        repo.finish_stage_log(log_id, status="success", rows_processed=99, time_taken="0.250")
    check_every_window(engine)

    ConfigRepository(engine).remove_table(TABLES[1])
    check_every_window(engine)


def test_a_rolled_up_day_follows_a_reaped_run_and_a_late_stage_log(engine: Engine) -> None:
    """Three days ago a run was still running when the day was rolled up; it is reaped, its
    stage log is finished late, and the figures of that day change at once."""
    repo = RunRepository(engine)
    stats = RunStats(engine)
    day = (utcnow() - timedelta(days=3)).replace(hour=23, minute=50, second=0, microsecond=0)
    with engine.begin() as c:
        run_id = c.execute(
            runs.insert()
            .values(source_tablename="orders", status="running", started_at=day, hop="all")
            .returning(runs.c.id)
        ).scalar_one()
    load = StageRecord(0, "default", 5, "Load sink", "load", None)
    extract = StageRecord(0, "default", 2, "Extract", "extract", None)
    extract_id = repo.start_stage_log(run_id, extract, day)
    repo.finish_stage_log(extract_id, status="success", rows_processed=10, time_taken="2.000")
    load_id = repo.start_stage_log(run_id, load, day + timedelta(minutes=5))
    window = Window.last_days(7, utcnow())
    before = stats.figures(window, None, stage_types())
    assert day.date() in rolled_up_days(engine)
    assert before.runs_per_day[3].by_status["running"] == 1
    assert before.rows_loaded_per_day == []
    assert [(d.stage_type, d.count) for d in before.stage_durations] == [("extract", 1)]

    repo.finish_stage_log(load_id, status="success", rows_processed=500, time_taken="4.000")
    late = stats.figures(window, None, stage_types())
    assert [(r.table, r.day, r.rows) for r in late.rows_loaded_per_day] == [
        ("orders", day.date(), 500)
    ]
    assert {d.stage_type: d.max_seconds for d in late.stage_durations} == {
        "extract": 2.0,
        "load": 4.0,
    }

    assert repo.fail_abandoned(repo.get_run(run_id), "its worker is gone")
    reaped = stats.figures(window, "orders", stage_types())
    assert reaped.runs_per_day[3].by_status == {
        "pending": 0,
        "running": 0,
        "success": 0,
        "failed": 1,
    }
    assert reaped.runs_by_status["failed"] == 1
    assert_same(reaped, reference(engine, window, "orders"))
    assert day.date() in rolled_up_days(engine)  # rolled up again, at its new count


def test_a_day_changed_while_it_is_rolled_up_is_not_marked_current(engine: Engine) -> None:
    """A writer that commits between the rollup's read of a day's change count and its mark
    leaves the day out of date: the mark holds only at the count that was read."""
    stats = RunStats(engine)
    day = utcnow().date() - timedelta(days=2)
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=5)
    with engine.begin() as c:
        c.execute(runs.insert().values(source_tablename="items", status="running", started_at=at))
    stats._add_days([day])
    d = s.sluice_stats_days
    with engine.begin() as c:
        read = c.execute(sa.select(d.c.changes).where(d.c.day == day)).scalar_one()
    with engine.begin() as c:  # the writer: commits before the rollup's rows are read
        c.execute(runs.update().values(status="failed"))
    with engine.begin() as c:
        RunStats._store(c, [day], {day: read})
    assert day not in rolled_up_days(engine)

    figures = stats.figures(Window.last_days(3, utcnow()), None, ())
    assert figures.runs_per_day[0].by_status["failed"] == 1
    assert day in rolled_up_days(engine)


def test_sqlite_timestamps_in_other_formats_bump_the_day_the_figures_count_them_in(
    tmp_path: Path,
) -> None:
    """Text without the T (another tool's) sorts before its day's first instant, so the window
    queries count it in the day before; the trigger bumps that day, not the one it names."""
    engine = create_config_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    stats = RunStats(engine)
    named = utcnow().date() - timedelta(days=4)
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO pipeline_config (source_tablename) VALUES ('orders')")
        c.exec_driver_sql(
            "INSERT INTO pipeline_runs_master (source_tablename, status, started_at) "
            f"VALUES ('orders', 'running', '{named.isoformat()} 08:00:00')"
        )
    window = Window.last_days(7, utcnow())
    first = stats.figures(window, None, ())
    counted_in = [d.day for d in first.runs_per_day if d.by_status["running"]]
    assert counted_in == [named - timedelta(days=1)]
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE pipeline_runs_master SET status = 'failed'")
    after = stats.figures(window, None, ())
    assert [d.day for d in after.runs_per_day if d.by_status["failed"]] == counted_in
    assert after.runs_by_status["running"] == 0
    engine.dispose()


def test_stage_logs_left_without_their_run_count_as_they_did(tmp_path: Path) -> None:
    """In a database without the foreign key (one made from the seed) a run can go and leave
    its stage logs: they still count in the durations over all tables and in no table's."""
    path = tmp_path / "c.db"
    engine = create_config_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as c:
        for name in TABLES:
            c.execute(s.pipeline_config.insert().values(source_tablename=name))
    generate(engine, seed=4)
    check_every_window(engine)
    with sqlite3.connect(path) as raw:  # foreign keys are off on a plain connection
        raw.execute("DELETE FROM pipeline_runs_master WHERE id % 3 = 0")
    check_every_window(engine)
    engine.dispose()


def test_readers_rolling_up_the_same_days_at_once_agree(engine: Engine) -> None:
    """Dashboards opened together on a fresh history: each reader rolls up what no other has
    in hand, reads the rest live, and all get the same figures."""
    generate(engine, seed=5)
    window = Window.last_days(30, utcnow())
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(lambda _: RunStats(engine).figures(window, None, stage_types()), range(6))
        )
    expected = reference(engine, window, None)
    for figures in results:
        assert_same(figures, expected)
    assert {d for d in window.days[:-1]} <= rolled_up_days(engine)
