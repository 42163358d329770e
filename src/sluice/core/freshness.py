"""Whether a table's hop is fresh: brought up to date recently enough for its schedule.

A scheduled, active hop should have succeeded within twice its interval (one missed or
failed run is tolerated, a second is not). A hop that never ran is not stale yet (nothing
was expected of it); one that ran and never succeeded is. Unscheduled or paused hops have no
target: nobody expects them to move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# The default target, in intervals of the hop's schedule.
INTERVALS = 2


@dataclass(frozen=True)
class Freshness:
    target: timedelta | None  # None: no schedule, or paused
    stale: bool | None  # None: no target to miss

    @property
    def target_seconds(self) -> int | None:
        return None if self.target is None else int(self.target.total_seconds())


def freshness(
    schedule_minutes: int | None,
    active: bool,
    last_success: datetime | None,
    last_run: datetime | None,
    now: datetime,
) -> Freshness:
    if not active or not schedule_minutes:
        return Freshness(target=None, stale=None)
    target = timedelta(minutes=INTERVALS * schedule_minutes)
    if last_success is None:
        return Freshness(target=target, stale=last_run is not None)
    return Freshness(target=target, stale=now - last_success > target)
