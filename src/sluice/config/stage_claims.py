"""Stage tasks claimed by the worker running them (`sluice_stage_claims`).

A broker delivers a task at least once: a worker taken for dead (Redis after its visibility
timeout, RabbitMQ after a lost connection) may still be running it when the task reaches
another. The first delivery inserts the claim; another delivery of the same task runs the
stage only once the claim's heartbeat is stale (its worker really died), and otherwise waits
for the claimer's answer and gives that, so the stage never runs twice at once and the engine
gets one answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sluice.config import schema as s
from sluice.config.store import Store
from sluice.core.clock import utcnow


@dataclass(frozen=True)
class ClaimState:
    claimed_by: str
    beat_at: datetime
    answer: dict[str, Any] | None


class StageClaimRepository(Store):
    def take_stage(
        self,
        task_id: str,
        run_id: int,
        claimer: str,
        stale_after: timedelta,
        dead_claimer: str | None = None,
    ) -> ClaimState | None:
        """None when this claimer now runs the task: the first to claim it, or taking over a
        claim whose heartbeat is older than `stale_after` or whose claimer is `dead_claimer`
        (seen to be gone). Otherwise the claim as it stands."""
        t = s.sluice_stage_claims
        now = utcnow()
        with self.tx() as c:
            try:
                with c.begin_nested():
                    c.execute(
                        t.insert().values(
                            task_id=task_id, run_id=run_id, claimed_by=claimer, beat_at=now
                        )
                    )
                return None
            except IntegrityError:
                pass
            taken = c.execute(
                t.update()
                .where(
                    t.c.task_id == task_id,
                    t.c.answer.is_(None),
                    sa.or_(t.c.beat_at < now - stale_after, t.c.claimed_by == dead_claimer),
                )
                .values(claimed_by=claimer, beat_at=now)
            ).rowcount
            if taken:
                return None
            row = c.execute(sa.select(t).where(t.c.task_id == task_id)).mappings().one()
        return ClaimState(
            claimed_by=row["claimed_by"],
            beat_at=row["beat_at"],
            answer=None if row["answer"] is None else json.loads(row["answer"]),
        )

    def beat_stage(self, task_id: str, claimer: str) -> bool:
        t = s.sluice_stage_claims
        with self.tx() as c:
            return bool(
                c.execute(
                    t.update()
                    .where(t.c.task_id == task_id, t.c.claimed_by == claimer)
                    .values(beat_at=utcnow())
                ).rowcount
            )

    def answer_stage(self, task_id: str, claimer: str, answer: dict[str, Any]) -> None:
        t = s.sluice_stage_claims
        with self.tx() as c:
            c.execute(
                t.update()
                .where(t.c.task_id == task_id, t.c.claimed_by == claimer)
                .values(answer=json.dumps(answer), beat_at=utcnow())
            )
