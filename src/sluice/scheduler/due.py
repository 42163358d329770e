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
    upstream: HopState | None = None  # for hop 2: the same table's hop 1

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

    @property
    def follows(self) -> HopState | None:
        """Hop 1, when this hop 2 follows it (hop order `after`, hop 1 active and scheduled)."""
        up = self.upstream
        if self.hop is not Hop.DL_TO_SINK or up is None or not up.active:
            return None
        return None if self.table.hop_order == "independent" else up

    @property
    def waiting_for_hop1(self) -> bool:
        """Hop 2 under hop order `after`: never while hop 1 runs (it would load the previous
        batch), and after a success only once hop 1 has published again since it started."""
        up = self.follows
        if up is None:
            return False
        if up.busy:
            return True
        mine = self.table.dl_to_sink
        if self.last_started is None or mine.last_run_status != "success":
            return False  # a first load, or a retry of a failed one, goes by the interval
        fed = self.table.source_to_dl
        return not (
            fed.last_run_status == "success"
            and fed.last_run_at is not None
            and fed.last_run_at > self.last_started
        )

    def next_due(self, now: datetime) -> datetime | None:
        """When the hop should next start; None when it is paused or has no schedule."""
        if not self.active or self.interval is None:
            return None
        if self.last_started is None:
            return now
        try:
            plain = self.last_started + self.interval
        except OverflowError:
            # An interval stored past what dates can hold (written around the validation):
            # this hop is never due, and the other tables are scheduled as usual.
            return None
        up = self.follows
        if up is not None and self.waiting_for_hop1 and not up.busy:
            # Not before hop 1's next run (it then becomes due as that run publishes).
            upstream = up.next_due(now)
            return None if upstream is None else max(plain, upstream)
        return plain


@dataclass(frozen=True)
class DueHop:
    table: str
    hop: Hop
    overdue_seconds: float  # infinite for a hop that never ran


def due_hops(
    states: list[HopState], now: datetime, hops: tuple[Hop, ...] = tuple(Hop)
) -> list[DueHop]:
    """Hops to start now, longest overdue first.

    A hop is due when its interval has passed since its last run started. However long the
    scheduler was away, a hop is due once (one run, not one per missed interval). A hop that
    is paused, unscheduled or already running is not due, nor is hop 2 of a table whose hop 1
    has never succeeded. Under hop order `after` (the default), hop 2 is not due while hop 1
    runs or is due in this same pass, and after a success not until hop 1 publishes again;
    then at once if its interval has passed since its own last start. `hops` limits the
    answer (the scheduler's second look in a pass asks for hop 2 only).
    """
    due = []
    starting = {
        s.table.source_tablename
        for s in states
        if s.hop is Hop.SOURCE_TO_DL and s.hop in hops and _due_at(s, now) is not None
    }
    for state in states:
        if state.hop not in hops:
            continue
        when = _due_at(state, now)
        if when is None or state.waiting_for_hop1:
            continue
        if state.follows is not None and state.table.source_tablename in starting:
            continue  # hop 1 starts now: hop 2 follows its batch, not the previous one
        overdue = (now - when).total_seconds() if state.last_started else float("inf")
        due.append(DueHop(state.table.source_tablename, state.hop, overdue))
    # Hop 1 before hop 2 of the same table, so a pass can feed the lake before reading it.
    hop_order = {Hop.SOURCE_TO_DL: 0, Hop.DL_TO_SINK: 1}
    return sorted(due, key=lambda d: (-d.overdue_seconds, d.table, hop_order[d.hop]))


def _due_at(state: HopState, now: datetime) -> datetime | None:
    """When the hop fell due, if it is due now (its interval alone; hop order aside)."""
    when = state.next_due(now)
    if when is None or state.busy or state.waiting_for_lake or when > now:
        return None
    return when


def hop_states(
    table: TableConfig,
    started: dict[tuple[str, Hop], datetime],
    locked: set[tuple[str, Hop]],
) -> list[HopState]:
    """Both hops of a table, hop 2 knowing its hop 1."""
    name = table.source_tablename
    first = HopState(
        table, Hop.SOURCE_TO_DL, started.get((name, Hop.SOURCE_TO_DL)),
        (name, Hop.SOURCE_TO_DL) in locked,
    )  # fmt: skip
    second = HopState(
        table, Hop.DL_TO_SINK, started.get((name, Hop.DL_TO_SINK)),
        (name, Hop.DL_TO_SINK) in locked, upstream=first,
    )  # fmt: skip
    return [first, second]
