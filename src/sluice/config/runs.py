"""Runs, stage logs, run locks, heartbeats and leases in the config database.

At most one run per (table, hop) is active, whoever starts it: creating a run inserts one
`sluice_run_locks` row per hop it covers in the same transaction as the run, and the primary
key refuses a second holder. Finishing a run (or reaping a dead one) deletes its rows in the
same transaction as its final status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sluice.config import schema as s
from sluice.config.records import RunRecord, StageLogRecord, StageRecord
from sluice.config.store import Store
from sluice.core.clock import utcnow
from sluice.core.errors import ConflictError, NotFoundError
from sluice.core.models import Hop, HopChoice, RunStatus

ACTIVE = (RunStatus.PENDING.value, RunStatus.RUNNING.value)


@dataclass(frozen=True)
class Worker:
    """The process executing a run: where it lives and when it started (pids are reused)."""

    host: str
    pid: int
    started: str


@dataclass(frozen=True)
class LeaseRecord:
    """A lease row: the scheduler holding it is alive while `expires_at` is in the future."""

    name: str
    holder: str
    expires_at: datetime
    last_pass_at: datetime | None

    def held(self, now: datetime) -> bool:
        return self.expires_at > now


class RunRepository(Store):
    # ---- creating and finishing ------------------------------------------------------------
    def create_run(
        self,
        table: str,
        pipeline: str,
        hop: str,
        triggered_by: str,
        plan: list[StageRecord],
        worker: Worker | None = None,
        reload: bool = False,
    ) -> RunRecord:
        """A pending run holding the lock of every hop it covers, its plan frozen with it
        (the stages it will run, as the template has them now), or ConflictError."""
        now = utcnow()
        try:
            with self.tx() as c:
                created = (
                    c.execute(
                        s.pipeline_runs_master.insert()
                        .values(
                            source_tablename=table,
                            pipeline_name=pipeline,
                            status=RunStatus.PENDING.value,
                            current_stage=0,
                            total_stages=len(plan),
                            triggered_by=triggered_by,
                            hop=hop,
                            heartbeat_at=now,
                            worker_host=worker.host if worker else None,
                            worker_pid=worker.pid if worker else None,
                            worker_started=worker.started if worker else None,
                            reload=reload,
                        )
                        .returning(s.pipeline_runs_master)
                    )
                    .mappings()
                    .one()
                )
                run_id = created["id"]
                if plan:
                    c.execute(
                        s.sluice_run_plans.insert(),
                        [
                            {
                                "run_id": run_id,
                                "stage_order": stage.stage_order,
                                "stage_name": stage.stage_name,
                                "stage_type": stage.stage_type,
                                "driver_container": stage.driver_container,
                            }
                            for stage in plan
                        ],
                    )
                c.execute(
                    s.sluice_run_locks.insert(),
                    [
                        {
                            "source_tablename": table,
                            "hop": covered.value,
                            "run_id": run_id,
                            "acquired_at": now,
                        }
                        for covered in HopChoice(hop).hops()
                    ],
                )
        except IntegrityError:
            raise self._busy(table, HopChoice(hop)) from None
        return to_run(created)

    def holds_lock(self, run_id: int) -> bool:
        """Whether the run still holds its lock rows (a reaped or finished run holds none)."""
        with self.read() as c:
            return c.execute(sa.select(holding(run_id))).scalar_one() is True

    def run_plan(self, run_id: int) -> list[StageRecord]:
        """The stages a run executes, in order, as frozen when it was created ([] for a run
        made before plans were kept)."""
        t = s.sluice_run_plans
        with self.read() as c:
            rows = c.execute(
                sa.select(t, s.pipeline_runs_master.c.pipeline_name)
                .join(s.pipeline_runs_master, s.pipeline_runs_master.c.id == t.c.run_id)
                .where(t.c.run_id == run_id)
                .order_by(t.c.stage_order)
            ).mappings()
            return [to_stage(row) for row in rows]

    def _busy(self, table: str, hop: HopChoice) -> ConflictError:
        t = s.sluice_run_locks
        with self.read() as c:
            holder = c.execute(
                sa.select(t.c.run_id, t.c.hop).where(
                    t.c.source_tablename == table, t.c.hop.in_([h.value for h in hop.hops()])
                )
            ).first()
        if holder is None:  # released between our insert and this look: a plain retry works
            return ConflictError(f"table {table!r} was busy a moment ago: try again")
        return ConflictError(
            f"table {table!r} hop {holder.hop} is already being run by run {holder.run_id}: "
            f"wait for it to finish (`sluice runs show {holder.run_id}`)",
            active_run_id=int(holder.run_id),
        )

    def start_run(self, run_id: int, worker: Worker) -> RunRecord:
        """Mark a pending run running, here; ConflictError when it is not pending (it ran
        already, or it was failed meanwhile). One statement: the check and the change cannot
        be split by another starter."""
        runs = s.pipeline_runs_master
        now = utcnow()
        with self.tx() as c:
            row = (
                c.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.status == RunStatus.PENDING.value)
                    .values(
                        status=RunStatus.RUNNING.value,
                        started_at=now,
                        heartbeat_at=now,
                        worker_host=worker.host,
                        worker_pid=worker.pid,
                        worker_started=worker.started,
                    )
                    .returning(runs)
                )
                .mappings()
                .first()
            )
        if row is None:
            run = self.get_run(run_id)  # NotFoundError when there is no such run
            raise ConflictError(f"run {run_id} is {run.status.value}, not pending: it ran already")
        return to_run(row)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        error: str | None,
        hop_results: dict[Hop, str] | None = None,
    ) -> RunRecord | None:
        """Final status, released locks and the hops' last results: all or nothing; the run
        as finished. None (and nothing written) when the run is no longer active: it was
        reaped."""
        now = utcnow()
        runs = s.pipeline_runs_master
        with self.tx() as c:
            # Only an active run is finished: a reaped one keeps the reaper's verdict.
            finished = (
                c.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.status.in_(ACTIVE))
                    .values(status=status.value, completed_at=now, error_message=error)
                    .returning(runs)
                )
                .mappings()
                .first()
            )
            if finished is None:
                return None
            c.execute(s.sluice_run_locks.delete().where(s.sluice_run_locks.c.run_id == run_id))
            for hop, result in (hop_results or {}).items():
                c.execute(
                    s.pipeline_config.update()
                    .where(s.pipeline_config.c.source_tablename == finished["source_tablename"])
                    .values(
                        {
                            f"{hop.value}_last_loader_run_status": result,
                            f"{hop.value}_last_loader_run_timestamp": now,
                        }
                    )
                )
        return to_run(finished)

    @staticmethod
    def _finish(
        c: sa.Connection, run_id: int, status: RunStatus, error: str | None, now: datetime
    ) -> None:
        c.execute(
            s.pipeline_runs_master.update()
            .where(s.pipeline_runs_master.c.id == run_id)
            .values(status=status.value, completed_at=now, error_message=error)
        )
        c.execute(s.sluice_run_locks.delete().where(s.sluice_run_locks.c.run_id == run_id))

    def beat(self, run_id: int) -> None:
        with self.tx() as c:
            c.execute(
                s.pipeline_runs_master.update()
                .where(
                    s.pipeline_runs_master.c.id == run_id,
                    s.pipeline_runs_master.c.status.in_(ACTIVE),
                )
                .values(heartbeat_at=utcnow())
            )

    # ---- reaping dead runs -----------------------------------------------------------------
    def active_runs(self) -> list[tuple[RunRecord, str | None]]:
        """Active runs with the start time their worker recorded."""
        t = s.pipeline_runs_master
        with self.read() as c:
            rows = c.execute(sa.select(t).where(t.c.status.in_(ACTIVE))).mappings().all()
        return [(to_run(row), row["worker_started"]) for row in rows]

    def fail_abandoned(
        self,
        run: RunRecord,
        reason: str,
        hops: list[Hop] | None = None,
        message: str | None = None,
    ) -> bool:
        """Mark an active run failed and release its locks; False if it finished meanwhile.

        `hops` are the hops whose last status becomes failed: those the run had begun (a hop
        that never ran keeps its previous status); None means every hop of the run.
        """
        now = utcnow()
        message = message or (
            f"run {run.id} was abandoned: {reason}; its locks were released and its watermark "
            "did not move"
        )
        with self.tx() as c:
            current = c.execute(
                sa.select(s.pipeline_runs_master.c.status).where(
                    s.pipeline_runs_master.c.id == run.id
                )
            ).scalar_one()
            if current not in ACTIVE:
                return False
            self._finish(c, run.id, RunStatus.FAILED, message, now)
            c.execute(
                s.pipeline_run_stage_logs.update()
                .where(
                    s.pipeline_run_stage_logs.c.pipeline_run_id == run.id,
                    s.pipeline_run_stage_logs.c.status == "running",
                )
                .values(status="failed", completed_at=now, error_message=message)
            )
            for hop in HopChoice(run.hop).hops() if hops is None else hops:
                c.execute(
                    s.pipeline_config.update()
                    .where(s.pipeline_config.c.source_tablename == run.source_tablename)
                    .values(
                        {
                            f"{hop.value}_last_loader_run_status": RunStatus.FAILED.value,
                            f"{hop.value}_last_loader_run_timestamp": now,
                        }
                    )
                )
        return True

    def locked_hops(self) -> set[tuple[str, Hop]]:
        """(table, hop) pairs that an active run holds."""
        t = s.sluice_run_locks
        with self.read() as c:
            rows = c.execute(sa.select(t.c.source_tablename, t.c.hop)).all()
        return _locked([(str(r[0]), str(r[1])) for r in rows])

    def count_active(self) -> int:
        t = s.pipeline_runs_master
        with self.read() as c:
            return int(
                c.execute(
                    sa.select(sa.func.count()).select_from(t).where(t.c.status.in_(ACTIVE))
                ).scalar_one()
            )

    # ---- leases ----------------------------------------------------------------------------
    def take_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew a lease; True while `holder` has it. An expired lease is taken over."""
        now = utcnow()
        t = s.sluice_leases
        with self.tx() as c:
            row = c.execute(sa.select(t).where(t.c.name == name)).mappings().first()
            if row is None:
                try:
                    with c.begin_nested():
                        c.execute(t.insert().values(name=name, holder=holder, expires_at=now + ttl))
                except IntegrityError:
                    return False
                return True
            if row["holder"] != holder and row["expires_at"] > now:
                return False
            result = c.execute(
                t.update()
                .where(
                    t.c.name == name,
                    t.c.holder == row["holder"],
                    t.c.expires_at == row["expires_at"],
                )
                .values(holder=holder, expires_at=now + ttl)
            )
            return bool(result.rowcount == 1)

    def mark_pass(self, name: str, holder: str) -> None:
        """Record that `holder`, while holding lease `name`, finished a pass (its liveness)."""
        t = s.sluice_leases
        with self.tx() as c:
            c.execute(
                t.update()
                .where(t.c.name == name, t.c.holder == holder)
                .values(last_pass_at=utcnow())
            )

    def lease(self, name: str) -> LeaseRecord | None:
        """Who holds lease `name`, until when, and when it last finished a pass (None: nobody)."""
        t = s.sluice_leases
        with self.read() as c:
            row = c.execute(sa.select(t).where(t.c.name == name)).mappings().first()
        if row is None:
            return None
        return LeaseRecord(
            name=row["name"],
            holder=row["holder"],
            expires_at=row["expires_at"],
            last_pass_at=row["last_pass_at"],
        )

    def drop_lease(self, name: str, holder: str) -> None:
        """Give the lease up: it lapses now, and the row keeps who held it and its last pass,
        so `status` can say when a scheduler last ran."""
        t = s.sluice_leases
        with self.tx() as c:
            c.execute(
                t.update().where(t.c.name == name, t.c.holder == holder).values(expires_at=utcnow())
            )

    # ---- reading and stage logs ------------------------------------------------------------
    def update_run(self, run_id: int, **values: Any) -> None:
        with self.tx() as c:
            c.execute(
                s.pipeline_runs_master.update()
                .where(s.pipeline_runs_master.c.id == run_id)
                .values(**values)
            )

    def get_run(self, run_id: int) -> RunRecord:
        with self.read() as c:
            row = (
                c.execute(
                    sa.select(s.pipeline_runs_master).where(s.pipeline_runs_master.c.id == run_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no run with id {run_id}: see `sluice runs`")
        return to_run(row)

    def list_runs(
        self, table: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[RunRecord]:
        t = s.pipeline_runs_master
        query = sa.select(t).order_by(t.c.id.desc()).limit(limit)
        if table is not None:
            query = query.where(t.c.source_tablename == table)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.read() as c:
            rows = c.execute(query).mappings().all()
        return [to_run(row) for row in rows]

    def start_stage_log(self, run_id: int, stage: StageRecord, started_at: datetime) -> int:
        """A running stage's log row; its run's current_stage and heartbeat follow by the
        database's trigger (migration 0014)."""
        with self.tx() as c:
            log_id = c.execute(
                s.pipeline_run_stage_logs.insert()
                .values(
                    pipeline_run_id=run_id,
                    stage_order=stage.stage_order,
                    stage_name=stage.stage_name,
                    stage_type=stage.stage_type,
                    status="running",
                    started_at=started_at,
                    attempts=1,
                )
                .returning(s.pipeline_run_stage_logs.c.id)
            ).scalar_one()
        return int(log_id)

    def finish_stage_log(self, log_id: int, *, fenced_by: int | None = None, **values: Any) -> bool:
        """Update a stage log; with `fenced_by` (the run's id) only while that run holds its
        lock. False when the fence refused it: the run was reaped meanwhile."""
        if "file_paths" in values:
            values["file_paths"] = json.dumps(values["file_paths"])
        update = s.pipeline_run_stage_logs.update().where(s.pipeline_run_stage_logs.c.id == log_id)
        if fenced_by is not None:
            update = update.where(holding(fenced_by))
        with self.tx() as c:
            return bool(c.execute(update.values(**values)).rowcount)

    def stage_logs(self, run_id: int) -> list[StageLogRecord]:
        t = s.pipeline_run_stage_logs
        with self.read() as c:
            rows = (
                c.execute(
                    sa.select(t)
                    .where(t.c.pipeline_run_id == run_id)
                    .order_by(t.c.stage_order, t.c.id)
                )
                .mappings()
                .all()
            )
        return [to_stage_log(row) for row in rows]


def holding(run_id: int) -> sa.Exists:
    """The fence: true while the run holds a lock row. Reaping or finishing a run deletes
    its rows, and a run id is never reused, so the id is the lock's token."""
    return sa.exists().where(s.sluice_run_locks.c.run_id == run_id)


def to_run(row: sa.RowMapping) -> RunRecord:
    """A pipeline_runs_master row as sluice sees it."""
    return RunRecord(
        id=row["id"],
        source_tablename=row["source_tablename"],
        pipeline_name=row["pipeline_name"],
        status=RunStatus(row["status"]),
        current_stage=row["current_stage"] or 0,
        total_stages=row["total_stages"] or 0,
        triggered_by=row["triggered_by"],
        hop=row["hop"] or "all",
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error_message=row["error_message"],
        heartbeat_at=row["heartbeat_at"],
        worker_host=row["worker_host"],
        worker_pid=row["worker_pid"],
        reload=bool(row.get("reload") or False),
    )


def to_stage(row: sa.RowMapping) -> StageRecord:
    """A pipeline_stages row, or a run's plan row (no id of its own: 0), as sluice sees it."""
    return StageRecord(
        id=row.get("id") or 0,
        pipeline_name=row["pipeline_name"],
        stage_order=row["stage_order"],
        stage_name=row["stage_name"],
        stage_type=row["stage_type"],
        driver_container=row["driver_container"],
    )


def to_stage_log(row: sa.RowMapping) -> StageLogRecord:
    """A pipeline_run_stage_logs row as sluice sees it."""
    return StageLogRecord(
        id=row["id"],
        pipeline_run_id=row["pipeline_run_id"],
        stage_order=row["stage_order"],
        stage_name=row["stage_name"],
        stage_type=row["stage_type"],
        status=row["status"],
        rows_processed=row["rows_processed"],
        file_paths=_paths(row["file_paths"]),
        time_taken=row["time_taken"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error_message=row["error_message"],
        attempts=row["attempts"],
        warnings=(row.get("warnings") or "").splitlines(),
    )


def _paths(raw: str | None) -> list[str]:
    """file_paths is a JSON array; a database made by other tools may hold a bare path."""
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _locked(rows: list[tuple[str, str]]) -> set[tuple[str, Hop]]:
    return {(table, Hop(hop)) for table, hop in rows}
