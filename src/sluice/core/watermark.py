"""Watermark values: typed in memory, canonical text in the config database.

The text form round-trips the key's type exactly: integers in decimal, timestamps in ISO-8601
with microseconds (with the offset when the column has a time zone), dates as YYYY-MM-DD,
decimals as their exact digits, strings as they are.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from sluice.core.errors import ConfigError, TerminalError


def format_value(value: Any) -> str:
    """Canonical text of a key value (a Python scalar from Arrow)."""
    if isinstance(value, bool):
        raise TerminalError(
            "a boolean column cannot be an incremental key: pick a column that grows"
        )
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | Decimal | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TerminalError(
        f"values of type {type(value).__name__} cannot be an incremental key: "
        "use an integer, decimal, date, timestamp or text column"
    )


def parse_value(text: str, arrow_type: pa.DataType) -> Any:
    """The typed value of a stored watermark, for a key column of `arrow_type`."""
    try:
        if pa.types.is_timestamp(arrow_type):
            parsed = datetime.fromisoformat(text)
            if arrow_type.tz is not None and parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            if arrow_type.tz is None and parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            return parsed
        if pa.types.is_date(arrow_type):
            return date.fromisoformat(text[:10])
        if pa.types.is_integer(arrow_type):
            return int(text)
        if pa.types.is_floating(arrow_type):
            return float(text)
        if pa.types.is_decimal(arrow_type):
            return Decimal(text)
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return text
        if pa.types.is_time(arrow_type):
            return time.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"stored watermark {text!r} is not a valid {arrow_type} value ({exc})"
        ) from None
    raise TerminalError(
        f"a column of type {arrow_type} cannot be an incremental key: "
        "use an integer, decimal, date, timestamp or text column"
    )


def scalar(value: Any, arrow_type: pa.DataType) -> pa.Scalar:
    return pa.scalar(value, type=arrow_type)


_LOOKBACK = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def check_lookback(text: str) -> str:
    """A look-back window as configured: '90s', '15m', '2h', '1d', or a plain number."""
    if not _LOOKBACK.match(text.strip()):
        raise ConfigError(
            f"look-back window {text!r} is not valid: write a duration such as 30s, 15m, 2h "
            "or 1d (or a plain number for a numeric key)"
        )
    return text.strip()


def lookback_floor(since: Any, text: str | None) -> Any:
    """The lowest key value a run re-reads: the watermark minus the look-back window."""
    if since is None or not text:
        return since
    match = _LOOKBACK.match(text.strip())
    if match is None:
        raise ConfigError(f"look-back window {text!r} is not valid")
    amount, unit = Decimal(match.group(1)), match.group(2)
    if isinstance(since, datetime | date):
        seconds = float(amount) * _UNIT_SECONDS[unit or "s"]
        if isinstance(since, datetime):
            return since - timedelta(seconds=seconds)
        return since - timedelta(days=math.ceil(seconds / 86400))
    if unit is not None:
        raise ConfigError(
            f"look-back window {text!r} is a duration but the incremental key is numeric: "
            "give a plain number"
        )
    if isinstance(since, int):
        return since - math.ceil(amount)
    if isinstance(since, Decimal):
        return since - amount
    if isinstance(since, float):
        return since - float(amount)
    raise ConfigError("a look-back window needs a timestamp, date or numeric incremental key")
