"""Which hops are due: pure, so the rules are plain to read and to test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sluice.config.records import TableConfig
from sluice.core.models import Hop


@dataclass(frozen=True)
class HopState:
    table: TableConfig
    hop: Hop
    last_started: datetime | None
    busy: bool

    @property
    def interval(self) -> timedelta | None:
        minutes = self.table.hop(self.hop).schedule_minutes
        return None if not minutes else timedelta(minutes=minutes)

    @property
    def active(self) -> bool:
        return self.table.hop(self.hop).is_active and self.interval is not None

    @property
    def waiting_for_lake(self) -> bool:
        """Hop 2 of a table whose hop 1 never succeeded has nothing to load yet."""
        return (
            self.hop is Hop.DL_TO_SINK
            and self.last_started is None
            and self.table.source_to_dl.last_run_status != "success"
        )

    def next_due(self, now: datetime) -> datetime | None:
        """When the hop should next start; None when it is paused or has no schedule."""
        if not self.active or self.interval is None:
            return None
        if self.last_started is None:
            return now
        try:
            return self.last_started + self.interval
        except OverflowError:
            # An interval stored past what dates can hold (written around the validation):
            # this hop is never due, and the other tables are scheduled as usual.
            return None


@dataclass(frozen=True)
class DueHop:
    table: str
    hop: Hop
    overdue_seconds: float  # infinite for a hop that never ran


def due_hops(states: list[HopState], now: datetime) -> list[DueHop]:
    """Hops to start now, longest overdue first.

    A hop is due when its interval has passed since its last run started. However long the
    scheduler was away, a hop is due once (one run, not one per missed interval). A hop that
    is paused, unscheduled or already running is not due, nor is hop 2 of a table whose hop 1
    has never succeeded.
    """
    due = []
    for state in states:
        when = state.next_due(now)
        if when is None or state.busy or state.waiting_for_lake or when > now:
            continue
        overdue = (now - when).total_seconds() if state.last_started else float("inf")
        due.append(DueHop(state.table.source_tablename, state.hop, overdue))
    # Hop 1 before hop 2 of the same table, so a pass can feed the lake before reading it.
    hop_order = {Hop.SOURCE_TO_DL: 0, Hop.DL_TO_SINK: 1}
    return sorted(due, key=lambda d: (-d.overdue_seconds, d.table, hop_order[d.hop]))
