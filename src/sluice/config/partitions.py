"""The ranges of partitioned extracts in the config database (`sluice_stage_partitions`).

One row per range of one extract attempt (`fan_id`). A range is read by whichever process
claims it first (the extract itself or a worker's task): the claim is one conditional UPDATE,
so two processes never read the same range. The reader beats while it reads and leaves the
parts it wrote (JSON) when it is done; the extract commits them together as one batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from sluice.config import schema as s
from sluice.config.store import Store
from sluice.core.clock import utcnow


@dataclass(frozen=True)
class PartitionRecord:
    fan_id: str
    partition_no: int
    run_id: int
    stage_order: int
    spec: dict[str, Any]
    status: str  # pending, running, done, failed
    claimed_by: str | None
    rows: int
    result: dict[str, Any] | None
    error: str | None
    beat_age_s: float | None  # seconds since its reader last beat


class PartitionRepository(Store):
    def create_partitions(
        self, fan_id: str, run_id: int, stage_order: int, specs: list[dict[str, Any]]
    ) -> None:
        """The ranges of a new attempt; an earlier attempt's of the same stage go (its
        extract is dead or is refused by `partitions` no longer listing its ranges)."""
        now = utcnow()
        t = s.sluice_stage_partitions
        with self.tx() as c:
            c.execute(t.delete().where(t.c.run_id == run_id, t.c.stage_order == stage_order))
            c.execute(
                t.insert(),
                [
                    {
                        "fan_id": fan_id,
                        "partition_no": number,
                        "run_id": run_id,
                        "stage_order": stage_order,
                        "spec": json.dumps(spec),
                        "status": "pending",
                        "beat_at": now,
                    }
                    for number, spec in enumerate(specs)
                ],
            )

    def claim_partition(
        self, fan_id: str, number: int, claimer: str, fresh_for: timedelta
    ) -> PartitionRecord | None:
        """The range, now this claimer's; None when another process claimed it first, or
        when its extract has not looked at it for `fresh_for` (the extract is dead)."""
        t = s.sluice_stage_partitions
        with self.tx() as c:
            claimed = c.execute(
                t.update()
                .where(
                    t.c.fan_id == fan_id,
                    t.c.partition_no == number,
                    t.c.status == "pending",
                    t.c.beat_at >= utcnow() - fresh_for,
                )
                .values(status="running", claimed_by=claimer, beat_at=utcnow())
            ).rowcount
        if not claimed:
            return None
        return next(p for p in self.partitions(fan_id) if p.partition_no == number)

    def keep_pending(self, fan_id: str) -> None:
        """The extract is alive: its unclaimed ranges stay fresh for their readers."""
        t = s.sluice_stage_partitions
        with self.tx() as c:
            c.execute(
                t.update()
                .where(t.c.fan_id == fan_id, t.c.status == "pending")
                .values(beat_at=utcnow())
            )

    def beat_partition(self, fan_id: str, number: int, claimer: str, rows: int) -> bool:
        """Record the rows read so far; False once the range is no longer this claimer's."""
        t = s.sluice_stage_partitions
        with self.tx() as c:
            return bool(
                c.execute(
                    t.update()
                    .where(*_held_by(fan_id, number, claimer))
                    .values(rows=rows, beat_at=utcnow())
                ).rowcount
            )

    def end_partition(
        self,
        fan_id: str,
        number: int,
        claimer: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Done with the parts written (`result`) or failed (`error`); False when the range
        was no longer this claimer's (the extract gave up on it)."""
        t = s.sluice_stage_partitions
        values: dict[str, Any] = {"beat_at": utcnow()}
        if error is None:
            values.update(status="done", result=json.dumps(result), rows=(result or {})["rows"])
        else:
            values.update(status="failed", error=error)
        with self.tx() as c:
            return bool(
                c.execute(
                    t.update().where(*_held_by(fan_id, number, claimer)).values(**values)
                ).rowcount
            )

    def abandon_partitions(self, fan_id: str) -> None:
        """The extract gave up: ranges not yet claimed are never read, and a late reader's
        beats and results are refused."""
        t = s.sluice_stage_partitions
        with self.tx() as c:
            c.execute(
                t.update()
                .where(t.c.fan_id == fan_id, t.c.status.in_(("pending", "running")))
                .values(status="failed", error="abandoned by its extract")
            )

    def drop_partitions(self, fan_id: str) -> None:
        with self.tx() as c:
            c.execute(
                s.sluice_stage_partitions.delete().where(
                    s.sluice_stage_partitions.c.fan_id == fan_id
                )
            )

    def partitions(self, fan_id: str) -> list[PartitionRecord]:
        t = s.sluice_stage_partitions
        now = utcnow()
        with self.read() as c:
            rows = (
                c.execute(sa.select(t).where(t.c.fan_id == fan_id).order_by(t.c.partition_no))
                .mappings()
                .all()
            )
        return [
            PartitionRecord(
                fan_id=row["fan_id"],
                partition_no=row["partition_no"],
                run_id=row["run_id"],
                stage_order=row["stage_order"],
                spec=json.loads(row["spec"]),
                status=row["status"],
                claimed_by=row["claimed_by"],
                rows=row["rows"],
                result=None if row["result"] is None else json.loads(row["result"]),
                error=row["error"],
                beat_age_s=None
                if row["beat_at"] is None
                else (now - row["beat_at"]).total_seconds(),
            )
            for row in rows
        ]


def _held_by(fan_id: str, number: int, claimer: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The range, while its claimer still reads it."""
    t = s.sluice_stage_partitions
    return (
        t.c.fan_id == fan_id,
        t.c.partition_no == number,
        t.c.claimed_by == claimer,
        t.c.status == "running",
    )
