"""Hop 1's guard against time keys in the future (policy: core/future.py).

Applied to every batch read, after the exact incremental filter and before the key's range is
tracked, so a row beyond the limit never reaches the watermark: under `fail` the first one
fails the run (nothing is published), under `hold` such rows are left out and counted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.errors import TerminalError
from sluice.core.future import FuturePolicy, policy_of, tolerance_of
from sluice.core.watermark import format_value
from sluice.stages.incremental import effective_key

EXAMPLES = 5


def is_time(key_type: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(key_type) or pa.types.is_date(key_type))


def future_limit(key_type: pa.DataType, now: datetime, tolerance: str | None) -> Any:
    """The largest key value trusted now, in the key's own terms (naive keys are UTC)."""
    limit = now.astimezone(UTC) + tolerance_of(tolerance)
    if pa.types.is_date(key_type):
        return limit.date()
    if key_type.tz is None:
        return limit.replace(tzinfo=None)
    return limit


class FutureGuard:
    def __init__(
        self,
        *,
        table: str,
        key: str,
        fallback: str | None,
        key_type: pa.DataType,
        primary_key: tuple[str, ...],
        tolerance: str | None,
        policy: str | None,
        now: datetime,
    ) -> None:
        self.table = table
        self.key = key
        self.fallback = fallback
        self.primary_key = primary_key
        self.tolerance = tolerance_of(tolerance)
        self.tolerance_text = tolerance or "1h"
        self.policy = policy_of(policy)
        self.now = now
        self.limit = future_limit(key_type, now, tolerance)
        self.held = 0
        self.held_max: Any = None

    def check_watermark(self, since: Any) -> None:
        """A stored watermark beyond the limit skips every change until then: say so."""
        if since is not None and since > self.limit:
            raise TerminalError(
                f"the watermark of {self.table} ({format_value(since)}) is more than "
                f"{self.tolerance_text} ahead of the clock ({self._now()}): every change "
                "before it would be skipped. Correct the source rows whose keys are that far "
                f"ahead, then load the table in full once (`sluice table edit {self.table} "
                "--load full`, run, then `--load incremental` again)"
            )

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows == 0:
            return batch
        keys = effective_key(batch, self.key, self.fallback)
        ahead = pc.greater(keys, pa.scalar(self.limit, type=keys.type))
        count = pc.sum(ahead).as_py() or 0
        if not count:
            return batch
        late = batch.filter(ahead)
        largest = pc.max(effective_key(late, self.key, self.fallback)).as_py()
        if self.policy is FuturePolicy.HOLD:
            self.held += count
            self.held_max = largest if self.held_max is None else max(self.held_max, largest)
            return batch.filter(pc.invert(ahead))
        raise TerminalError(
            f"incremental key {self.key!r} of {self.table} is more than {self.tolerance_text} "
            f"ahead of the clock ({self._now()}) in {count} row(s) of a batch read, up to "
            f"{format_value(largest)} ({self._examples(late)}): the watermark would jump there "
            "and later changes would be skipped; nothing was published. Correct those rows, "
            f"raise the tolerance (`sluice table edit {self.table} --future-tolerance 2d`), or "
            "hold such rows back until they are due (`--future-policy hold`)"
        )

    def summary(self) -> str | None:
        """What this run held back, for `status` (None: nothing)."""
        if not self.held:
            return None
        return (
            f"{self.held} row(s) held back at {self._now()}: keys up to "
            f"{format_value(self.held_max)}, more than {self.tolerance_text} ahead"
        )

    def _now(self) -> str:
        return self.now.astimezone(UTC).isoformat(timespec="seconds")

    def _examples(self, rows: pa.RecordBatch) -> str:
        columns = [c for c in self.primary_key if c in rows.schema.names] or [self.key]
        shown = rows.select(columns).slice(0, EXAMPLES).to_pylist()
        text = "; ".join(", ".join(f"{c}={_shown(row[c])}" for c in columns) for row in shown)
        return text + ("; ..." if rows.num_rows > EXAMPLES else "")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else format_value(value)
