"""Whether a table's hop is fresh: brought up to date recently enough for its schedule.

A scheduled, active hop should have succeeded within its target: the table's own
(`--fresh-within 2h`), else twice its interval (one missed or failed run is tolerated, a
second is not). A hop that never ran is not stale yet (nothing
was expected of it); one that ran and never succeeded is. Unscheduled or paused hops have no
target: nobody expects them to move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sluice.core.errors import ConfigError

# The default target, in intervals of the hop's schedule.
INTERVALS = 2
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TARGET = timedelta(days=3650)


def check_target(text: str, option: str = "--fresh-within") -> str:
    """A freshness target as configured: a whole number of s, m, h or d, above zero."""
    cleaned = text.strip()
    match = _DURATION.match(cleaned)
    if match is None or not timedelta(0) < target_of(cleaned) <= MAX_TARGET:
        raise ConfigError(
            f"freshness target {text[:40]!r} ({option}) is not valid: write a duration above "
            "zero and at most ten years such as 90m, 2h or 1d ('' restores the default: "
            "twice the hop's schedule)"
        )
    return cleaned


def target_of(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise ConfigError(f"freshness target {text!r} is not valid: write e.g. 2h")
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])


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
    fresh_within: str | None = None,
) -> Freshness:
    if not active or not schedule_minutes:
        return Freshness(target=None, stale=None)
    if fresh_within:
        target = target_of(fresh_within)
    else:
        target = timedelta(minutes=INTERVALS * schedule_minutes)
    if last_success is None:
        return Freshness(target=target, stale=last_run is not None)
    return Freshness(target=target, stale=now - last_success > target)
