"""Run history as the REST API reads it: filtered pages of runs, their stage logs, last runs.

Pages are keyset-paginated on the run id (newest first): a page costs the same however deep
it is, and runs created meanwhile do not shift it. Every filter has an index (revision 0005).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sluice.config import schema as s
from sluice.config.records import RunRecord, StageLogRecord
from sluice.config.runs import to_run, to_stage_log
from sluice.config.store import Store
from sluice.core.freshness import Freshness, freshness
from sluice.core.models import Hop, HopChoice, RunStatus

runs = s.pipeline_runs_master
logs = s.pipeline_run_stage_logs


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list; None means any. since/until bound the start time (until exclusive)."""

    table: str | None = None
    status: str | None = None
    triggered_by: str | None = None
    hop: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        for column, value in (
            (runs.c.source_tablename, self.table),
            (runs.c.status, self.status),
            (runs.c.triggered_by, self.triggered_by),
            (runs.c.hop, self.hop),
        ):
            if value is not None:
                found.append(column == value)
        if self.since is not None:
            found.append(runs.c.started_at >= self.since)
        if self.until is not None:
            found.append(runs.c.started_at < self.until)
        return found


@dataclass(frozen=True)
class StageBrief:
    """A stage as a run listing shows it: no files or error, so it is cheap to read.

    `started_at` with `rows_processed` gives a running stage's rate (the engine writes its
    rows as it goes)."""

    stage_order: int
    stage_name: str | None
    stage_type: str | None
    status: str
    rows_processed: int | None
    time_taken: str | None
    started_at: datetime | None = None


class RunHistory(Store):
    def page(self, where: RunFilter, limit: int, before_id: int | None) -> list[RunRecord]:
        """Up to `limit` runs matching `where` with ids below `before_id`, newest first."""
        query = sa.select(runs).where(*where.where()).order_by(runs.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(runs.c.id < before_id)
        with self.read() as c:
            rows = c.execute(query).mappings().all()
        return [to_run(row) for row in rows]

    def stage_logs_of(self, run_ids: Sequence[int]) -> dict[int, list[StageLogRecord]]:
        """The full stage logs of several runs in one query, each run's in stage order."""
        found: dict[int, list[StageLogRecord]] = {run_id: [] for run_id in run_ids}
        if run_ids:
            with self.read() as c:
                for row in c.execute(self._logs_query(run_ids, sa.select(logs))).mappings():
                    found[row["pipeline_run_id"]].append(to_stage_log(row))
        return found

    def stage_briefs_of(self, run_ids: Sequence[int]) -> dict[int, list[StageBrief]]:
        """What a listing shows of the stages of several runs, in one query."""
        found: dict[int, list[StageBrief]] = {run_id: [] for run_id in run_ids}
        if run_ids:
            columns = sa.select(
                logs.c.pipeline_run_id,
                logs.c.stage_order,
                logs.c.stage_name,
                logs.c.stage_type,
                logs.c.status,
                logs.c.rows_processed,
                logs.c.time_taken,
                logs.c.started_at,
            )
            with self.read() as c:
                for run_id, *brief in c.execute(self._logs_query(run_ids, columns)):
                    found[run_id].append(StageBrief(*brief))
        return found

    @staticmethod
    def _logs_query(run_ids: Sequence[int], query: sa.Select[Any]) -> sa.Select[Any]:
        return query.where(logs.c.pipeline_run_id.in_(list(run_ids))).order_by(
            logs.c.pipeline_run_id, logs.c.stage_order, logs.c.id
        )

    def last_started(self, tables: Sequence[str] | None = None) -> dict[tuple[str, Hop], datetime]:
        """When the newest run covering each (table, hop) was created or started.

        The newest run is the one with the highest id; one index lookup per table and hop
        (ix_runs_table_hop_id), where a MAX over start times would read every run of the table.
        """
        config = s.pipeline_config
        newest = {
            choice: sa.select(sa.func.max(runs.c.id))
            .where(runs.c.source_tablename == config.c.source_tablename, runs.c.hop == choice)
            .scalar_subquery()
            for choice in HopChoice
        }
        query = sa.select(config.c.source_tablename, *newest.values())
        if tables is not None:
            query = query.where(config.c.source_tablename.in_(tables))
        with self.read() as c:
            rows = c.execute(query).all()
            ids = {int(i) for row in rows for i in row[1:] if i is not None}
            started = self._start_times(c, ids)
        found: dict[tuple[str, Hop], datetime] = {}
        for row in rows:
            by_choice = dict(zip(newest, row[1:], strict=True))
            for hop in Hop:
                candidates = [by_choice[HopChoice(hop.value)], by_choice[HopChoice.ALL]]
                best = max((i for i in candidates if i is not None), default=None)
                if best is not None and best in started:
                    found[(row[0], hop)] = started[best]
        return found

    @staticmethod
    def _start_times(c: sa.Connection, ids: set[int]) -> dict[int, datetime]:
        if not ids:
            return {}
        at = sa.func.coalesce(runs.c.started_at, runs.c.heartbeat_at)
        query = sa.select(runs.c.id, at).where(runs.c.id.in_(sorted(ids)))
        return {int(row[0]): row[1] for row in c.execute(query) if row[1] is not None}

    def last_success(self, tables: Sequence[str] | None = None) -> dict[tuple[str, Hop], datetime]:
        """When a run covering each (table, hop) last finished successfully.

        A run of both hops that failed in hop 2 still succeeded in hop 1: the hop's own last
        result in pipeline_config covers that case.
        """
        config = s.pipeline_config
        columns: list[sa.ColumnElement[Any]] = []
        for hop in Hop:
            columns.append(
                sa.select(sa.func.max(runs.c.completed_at))
                .where(
                    runs.c.source_tablename == config.c.source_tablename,
                    runs.c.hop.in_([hop.value, HopChoice.ALL.value]),
                    runs.c.status == RunStatus.SUCCESS.value,
                )
                .scalar_subquery()
            )
            columns += [
                config.c[f"{hop.value}_last_loader_run_status"],
                config.c[f"{hop.value}_last_loader_run_timestamp"],
            ]
        query = sa.select(config.c.source_tablename, *columns)
        if tables is not None:
            query = query.where(config.c.source_tablename.in_(tables))
        with self.read() as c:
            rows = c.execute(query).all()
        found: dict[tuple[str, Hop], datetime] = {}
        for row in rows:
            for index, hop in enumerate(Hop):
                from_runs, status, at = row[1 + 3 * index : 4 + 3 * index]
                candidates = [from_runs]
                if status == RunStatus.SUCCESS.value:
                    candidates.append(at)
                best = max((c for c in candidates if c is not None), default=None)
                if best is not None:
                    found[(row[0], hop)] = best
        return found

    def freshness(self, now: datetime) -> dict[tuple[str, Hop], Freshness]:
        """Each table's hop against its freshness target (core/freshness.py)."""
        config = s.pipeline_config
        columns = [
            config.c[f"{hop.value}_{name}"]
            for hop in Hop
            for name in ("schedule", "is_active", "last_loader_run_timestamp", "fresh_within")
        ]
        with self.read() as c:
            rows = c.execute(sa.select(config.c.source_tablename, *columns)).all()
        succeeded = self.last_success()
        found: dict[tuple[str, Hop], Freshness] = {}
        for row in rows:
            for index, hop in enumerate(Hop):
                schedule, active, last_run, within = row[1 + 4 * index : 5 + 4 * index]
                key = (str(row[0]), hop)
                found[key] = freshness(
                    schedule, bool(active), succeeded.get(key), last_run, now, within
                )
        return found

    def extract_warnings(self) -> dict[str, list[str]]:
        """Per table, the warnings of its newest successful extract (a schema change applied
        under its contract), for `sluice status`; tables whose newest had none are left out."""
        newest = (
            sa.select(sa.func.max(logs.c.id))
            .select_from(logs.join(runs, runs.c.id == logs.c.pipeline_run_id))
            .where(logs.c.stage_type == "extract", logs.c.status == "success")
            .group_by(runs.c.source_tablename)
        )
        query = (
            sa.select(runs.c.source_tablename, logs.c.warnings)
            .select_from(logs.join(runs, runs.c.id == logs.c.pipeline_run_id))
            .where(logs.c.id.in_(newest), logs.c.warnings.is_not(None))
        )
        with self.read() as c:
            return {str(row[0]): str(row[1]).splitlines() for row in c.execute(query)}

    def last_failures(
        self, stage_hops: Mapping[str, Hop], tables: Sequence[str] | None = None
    ) -> dict[tuple[str, Hop], tuple[int, str]]:
        """Per (table, hop): the newest failed run covering it, with its error's first line."""
        newest = (
            sa.select(sa.func.max(runs.c.id))
            .where(runs.c.status == RunStatus.FAILED.value)
            .group_by(runs.c.source_tablename, runs.c.hop)
        )
        if tables is not None:
            newest = newest.where(runs.c.source_tablename.in_(tables))
        query = sa.select(
            runs.c.id, runs.c.source_tablename, runs.c.hop, runs.c.error_message
        ).where(runs.c.id.in_(newest))
        found: dict[tuple[str, Hop], tuple[int, str]] = {}
        with self.read() as c:
            rows = c.execute(query).all()
        for run_id, table, choice, message in sorted(rows):
            first = (message or "failed").strip().splitlines()[0] if message else "failed"
            for hop in failed_hops(HopChoice(choice or HopChoice.ALL.value), first, stage_hops):
                found[(str(table), hop)] = (int(run_id), first)  # ascending: newest wins
        return found


def failed_hops(
    choice: HopChoice, first_line: str, stage_hops: Mapping[str, Hop]
) -> tuple[Hop, ...]:
    """The hop a run failed in: its error starts with the failing stage's type (`extract:
    ...`, whose hop `stage_hops` gives), so a run of both hops that died in hop 1 is not
    hop 2's error."""
    known = stage_hops.get(first_line.split(":", 1)[0].strip())
    if known is not None and known in choice.hops():
        return (known,)
    return choice.hops()
