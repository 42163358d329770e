"""Watermark values: typed in memory, canonical text in the config database.

The text form round-trips the key's type exactly: integers in decimal, timestamps in ISO-8601
with microseconds (with the offset when the column has a time zone), dates as YYYY-MM-DD,
decimals as their exact digits, strings as they are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
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
            f"stored watermark {text!r} is not a valid {arrow_type} value ({exc}); "
            "fix it with `sluice table edit --watermark` or clear it to reload"
        ) from None
    raise TerminalError(
        f"a column of type {arrow_type} cannot be an incremental key: "
        "use an integer, decimal, date, timestamp or text column"
    )


def scalar(value: Any, arrow_type: pa.DataType) -> pa.Scalar:
    return pa.scalar(value, type=arrow_type)
