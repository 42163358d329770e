"""Dates and timestamps as text a database reads back to the same values, infinities included.

For sinks that cannot take the lake's values as they are: binary COPY cannot send the lake's
infinity markers (sluice.core.infinity), and SQLite keeps dates as text. Arrow's own text
covers the years 1 to 9999 quickly; values outside (few, if any) are spelled one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.infinity import marker


@dataclass(frozen=True)
class DatetimeSpelling:
    separator: str  # between the date and the time
    utc_suffix: str  # after a timestamp with a time zone (the lake holds UTC)
    # Years before 1 as '0044-03-15 BC'; else astronomically (year 0 is 1 BC): '-0043-03-15'.
    era_suffix: bool


_DAY_MICROSECONDS = 86_400_000_000
_FIRST_AD_DAY = -719_162  # 0001-01-01 since 1970-01-01
_AFTER_9999 = 2_932_897  # 10000-01-01 since 1970-01-01
_CYCLE_DAYS = 146_097  # the Gregorian calendar repeats every 400 years
_UNIX_EPOCH = datetime(1970, 1, 1)


def datetime_text(values: pa.Array, spelling: DatetimeSpelling) -> pa.Array:
    """A date32 or timestamp[us] array as text; 'infinity' and '-infinity' for the markers."""
    kind = values.type
    top = marker(kind)
    assert top is not None
    is_date = pa.types.is_date32(kind)
    ints = values.view(pa.int32() if is_date else pa.int64())
    unit = 1 if is_date else _DAY_MICROSECONDS
    positive, negative = pc.equal(ints, top), pc.equal(ints, -top)
    outside = pc.or_(
        pc.less(ints, _FIRST_AD_DAY * unit), pc.greater_equal(ints, _AFTER_9999 * unit)
    )
    outside = pc.and_(outside, pc.invert(pc.or_(positive, negative)))
    odd = pc.or_(pc.or_(positive, negative), outside)
    usual = pc.if_else(odd, pa.scalar(0, ints.type), ints)
    if is_date:
        text = usual.view(pa.date32()).cast(pa.string())
    else:
        text = usual.view(pa.timestamp("us")).cast(pa.string())  # no zone: no 'Z'
        if spelling.separator != " ":
            text = pc.replace_substring(text, " ", spelling.separator, max_replacements=1)
        if kind.tz and spelling.utc_suffix:
            text = pc.binary_join_element_wise(text, spelling.utc_suffix, "")
    text = pc.if_else(positive, "infinity", pc.if_else(negative, "-infinity", text))
    if not pc.any(outside).as_py():
        return text
    spelled = [_spelled(v, kind, spelling) for v in ints.filter(outside).to_pylist()]
    return pc.replace_with_mask(text, outside, pa.array(spelled, pa.string()))


def _spelled(value: int, kind: pa.DataType, spelling: DatetimeSpelling) -> str:
    """One value outside the years 1 to 9999: moved by whole 400-year cycles into Python's
    calendar (dates repeat exactly), formatted, and given back its year."""
    is_date = pa.types.is_date32(kind)
    days = value if is_date else value // _DAY_MICROSECONDS
    cycles = (days - _FIRST_AD_DAY) // _CYCLE_DAYS  # negative before AD
    shift_days = -cycles * _CYCLE_DAYS
    if is_date:
        moved = _UNIX_EPOCH + timedelta(days=value + shift_days)
        rest = moved.date().isoformat()[4:]
    else:
        moved = _UNIX_EPOCH + timedelta(microseconds=value + shift_days * _DAY_MICROSECONDS)
        rest = moved.isoformat(sep=spelling.separator, timespec="microseconds")[4:]
        rest += spelling.utc_suffix if kind.tz else ""
    year = moved.year + 400 * cycles
    if year <= 0 and spelling.era_suffix:
        return f"{1 - year:04d}{rest} BC"
    return f"{year:05d}{rest}" if year < 0 else f"{year:04d}{rest}"
