"""Keys in the future: how far ahead of the clock hop 1's time key may be, and what a run does
with rows beyond that.

A row stamped a year ahead (`updated_at = now() + 1 year`) would move the watermark a year
ahead, and every change until then would be skipped while runs report success. So a timestamp
or date key more than the table's tolerance ahead of the sluice host's UTC clock either fails
the run before anything is published (`fail`, the default) or is held back (`hold`): the row
is left out of this batch, the watermark moves only as far as the rows taken, and the row is
read again by every run until it is due. Keys without a time zone are read as UTC.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum

from sluice.core.errors import ConfigError

DEFAULT_TOLERANCE = "1h"
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TOLERANCE_DAYS = 3660


class FuturePolicy(StrEnum):
    FAIL = "fail"
    HOLD = "hold"


def check_tolerance(text: str, option: str = "--future-tolerance") -> str:
    """A tolerance as configured: a whole number of s, m, h or d (`0s` allows none)."""
    cleaned = text.strip()
    match = _DURATION.match(cleaned)
    if match is None or tolerance_of(cleaned) > timedelta(days=MAX_TOLERANCE_DAYS):
        raise ConfigError(
            f"future tolerance {text[:40]!r} ({option}) is not valid: write a duration of at "
            f"most ten years such as 30s, 15m, 1h or 2d ('' restores {DEFAULT_TOLERANCE})"
        )
    return cleaned


def tolerance_of(text: str | None) -> timedelta:
    match = _DURATION.match((text or DEFAULT_TOLERANCE).strip())
    if match is None:
        raise ConfigError(f"future tolerance {text!r} is not valid: write e.g. 1h")
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])


def check_policy(text: str, option: str = "--future-policy") -> FuturePolicy:
    try:
        return FuturePolicy(text.strip())
    except ValueError:
        raise ConfigError(
            f"future policy {text[:40]!r} ({option}) is unknown: use 'fail' (the run fails, "
            "naming the rows) or 'hold' (such rows wait until they are due)"
        ) from None


def policy_of(text: str | None) -> FuturePolicy:
    return FuturePolicy(text) if text in tuple(FuturePolicy) else FuturePolicy.FAIL
