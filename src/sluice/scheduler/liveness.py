"""Whether a scheduler is alive: who holds its lease and when it last finished a pass.

Reads (status, the API, the dashboard) use this so that a hop shown as due is not presented as
about to start when no scheduler is there to start it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sluice.config.runs import RunRepository

LEASE = "scheduler"


@dataclass(frozen=True)
class SchedulerLiveness:
    running: bool  # a scheduler holds the lease now
    holder: str | None  # host:pid:tag of the holder (or of the last one, when it lapsed)
    expires_at: datetime | None
    last_pass_at: datetime | None

    def describe(self, now: datetime) -> str:
        """One line for `sluice status`."""
        last = (
            f"last pass {int((now - self.last_pass_at).total_seconds())}s ago"
            if self.last_pass_at
            else "no pass finished yet"
        )
        if self.running:
            return f"scheduler running: {self.holder}, {last}"
        if self.holder:
            return (
                f"no scheduler running (the last one, {self.holder}, let its lease lapse; "
                f"{last}): due hops start only when `sluice scheduler` runs"
            )
        return "no scheduler running: due hops start only when `sluice scheduler` runs"

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "running": self.running,
            "holder": self.holder,
            "lease_expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_pass_at": self.last_pass_at.isoformat() if self.last_pass_at else None,
            "last_pass_age_seconds": (
                round((now - self.last_pass_at).total_seconds(), 3) if self.last_pass_at else None
            ),
        }


def scheduler_liveness(runs: RunRepository, now: datetime) -> SchedulerLiveness:
    lease = runs.lease(LEASE)
    if lease is None:
        return SchedulerLiveness(False, None, None, None)
    return SchedulerLiveness(lease.held(now), lease.holder, lease.expires_at, lease.last_pass_at)
