"""Checks of what goes into the config database. Each failure says what is wrong and the fix."""

from __future__ import annotations

import re

from sluice.config.deceptive import refuse_deceptive
from sluice.core.errors import ConfigError
from sluice.core.models import HopChoice, LoadType

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# Names from config are always quoted in SQL; these characters are refused anyway because no
# real table needs them and they are how injection attempts look.
_FORBIDDEN_IN_IDENTIFIER = re.compile(r"[\x00-\x1f\x7f;/\\]|--|/\*|\*/")
MAX_IDENTIFIER = 128
_POOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def connection_name(name: str, label: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"{label} name {name!r} is not valid: use 1-63 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def identifier(value: str, what: str) -> str:
    """A table or column name from config: quoted later, but never anything that looks like SQL."""
    if not value or value != value.strip():
        raise ConfigError(f"{what} {value!r} is empty or has leading/trailing spaces")
    if len(value) > MAX_IDENTIFIER:
        raise ConfigError(f"{what} {value[:40]!r}... is longer than {MAX_IDENTIFIER} characters")
    refuse_deceptive(value, what)
    if _FORBIDDEN_IN_IDENTIFIER.search(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid name: it may not contain ';', '/', '\\', "
            "comment markers or control characters"
        )
    return value


def table_name(value: str, what: str = "table name") -> str:
    """A possibly schema-qualified table name (schema.table)."""
    identifier(value, what)
    for part in value.split("."):
        if not part.strip():
            raise ConfigError(f"{what} {value!r} has an empty part: write schema.table or table")
    return value


# What every SQL sink keeps beside the tables it loads (connectors/sqlsink.py): its load state
# table, and staging tables whose leftovers a load drops by name.
RESERVED_SINK_TABLE = "_sluice_state"
RESERVED_SINK_PREFIX = "__sluice_"


def sink_table_name(value: str) -> str:
    """A sink table name that is not one of the names sluice keeps for itself in a sink."""
    table_name(value, "sink table name")
    bare = value.rsplit(".", 1)[-1]
    if bare.lower() == RESERVED_SINK_TABLE or bare.lower().startswith(RESERVED_SINK_PREFIX):
        raise ConfigError(
            f"sink table name {value!r} is reserved: sluice keeps its load state in "
            f"{RESERVED_SINK_TABLE!r} and staging tables named {RESERVED_SINK_PREFIX}... in a "
            "sink; choose another with --sink-table"
        )
    return value


def load_type(value: str, option: str) -> LoadType:
    try:
        return LoadType(value)
    except ValueError:
        raise ConfigError(
            f"load type {value!r} ({option}) is unknown: use 'full' or 'incremental'"
        ) from None


# Ten years: anything longer is a mistake, and dates past year 9999 cannot be computed.
MAX_SCHEDULE_MINUTES = 10 * 365 * 24 * 60


_MINUTES_PER_UNIT = {"m": 1, "h": 60, "d": 24 * 60}


def minutes(value: int | str | None, option: str) -> int | None:
    """An interval as minutes: a number of minutes, or a duration such as 15m, 1h or 1d."""
    if value is None or isinstance(value, int):
        return value
    text = value.strip().lower()
    if text.lstrip("-").isdigit():
        return int(text)  # the range check (schedule) says what is allowed
    if len(text) > 1 and text[:-1].isdigit() and text[-1] in _MINUTES_PER_UNIT:
        return int(text[:-1]) * _MINUTES_PER_UNIT[text[-1]]
    raise ConfigError(
        f"schedule {value!r} ({option}) is not an interval: give minutes (60) or a duration "
        "such as 15m, 1h or 1d"
    )


def schedule(value: int | None, option: str) -> int | None:
    if value is not None and not 0 < value <= MAX_SCHEDULE_MINUTES:
        raise ConfigError(
            f"schedule {value} ({option}) must be a number of minutes from 1 to "
            f"{MAX_SCHEDULE_MINUTES} (ten years): e.g. 60 for hourly, 1440 for daily"
        )
    return value


def incremental_needs_key(kind: LoadType, key: str | None, hop_label: str, option: str) -> None:
    if kind is LoadType.INCREMENTAL and not key:
        raise ConfigError(
            f"{hop_label} is incremental but has no incremental key: give one with {option} COL "
            "(a column that grows, such as updated_at or an id)"
        )


def primary_key(columns: list[str]) -> tuple[str, ...]:
    cleaned = tuple(identifier(c.strip(), "primary key column") for c in columns if c.strip())
    if len(set(cleaned)) != len(cleaned):
        raise ConfigError(f"primary key {', '.join(cleaned)} names a column twice")
    return cleaned


def pool_name(value: str) -> str:
    if not _POOL.match(value):
        raise ConfigError(
            f"driver container {value!r} is not a valid pool name: use letters, digits, '_', "
            "'-' or '.'"
        )
    return value


_WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]+$")
MAX_INTEGER = 2**31 - 1  # the config database's INTEGER column


def lake_keep_full(value: int | str, option: str) -> int | None:
    """How many full snapshots the lake keeps for a table; '' means the default (None)."""
    text = value.strip() if isinstance(value, str) else str(value)
    if text == "":
        return None
    shown = text if len(text) <= 40 else f"{text[:40]}..."
    what = f"full snapshots to keep {shown} ({option})"
    # bool is an int to Python, but `true` is no count of snapshots.
    if isinstance(value, bool) or not _WHOLE_NUMBER.match(text):
        raise ConfigError(
            f"full snapshots to keep {shown!r} ({option}) is not a whole number: give a number "
            "N >= 1, or '' for the default"
        )
    digits = text.lstrip("+-").lstrip("0")
    if not digits or text.startswith("-"):
        raise ConfigError(
            f"{what} must be at least 1: the newest full snapshot is always kept; give '' for "
            "the default"
        )
    # Compared as text first: Python refuses to parse integers of thousands of digits.
    if len(digits) > len(str(MAX_INTEGER)) or int(digits) > MAX_INTEGER:
        raise ConfigError(f"{what} is above {MAX_INTEGER}")
    return int(digits)


HOP_ORDERS = ("after", "independent")


def one_of(value: str, allowed: tuple[str, ...], refusal: str) -> str:
    """`value` when it is one of `allowed`; else a ConfigError of `refusal` (which says what
    each choice means and names the option)."""
    if value not in allowed:
        raise ConfigError(refusal)
    return value


def hop_order(value: str) -> str:
    """`after` (hop 2 follows hop 1's batches) or `independent` (each on its own interval)."""
    return one_of(
        value,
        HOP_ORDERS,
        f"hop order {value!r} is not known: use `after` (hop 2 waits for hop 1 and loads "
        "each new batch at once, the default) or `independent` (--hop-order)",
    )


ZERO_DATES = ("fail", "null")
MAX_PARTITIONS = 64


def partitions(value: int | str) -> int | None:
    """Ranges a full hop 1 read is split into: 1 to 64, or 0 for the default (by size)."""
    text = str(value).strip()
    if not text.isdigit() or int(text) > MAX_PARTITIONS:
        raise ConfigError(
            f"partitions {value!r} must be a whole number from 1 to {MAX_PARTITIONS} (ranges a "
            "full hop 1 read is split into, read in parallel), or 0 to choose by the table's "
            "size (--partitions)"
        )
    return int(text) or None


PARTITION_UNITS = ("day", "hour", "month", "year")
MAX_CLUSTER_COLUMNS = 4


def partition_by(value: str) -> str:
    """`COLUMN[:day|hour|month|year]` or `COLUMN:START:END:INTERVAL` (--partition-by)."""
    column, _, rest = value.partition(":")
    identifier(column, "partitioning column (--partition-by)")
    pieces = rest.split(":") if rest else []
    numbers = [p.lstrip("-") for p in pieces]
    if len(pieces) == 3 and all(n.isdigit() for n in numbers):
        start, end, step = (int(p) for p in pieces)
        if start < end and step > 0:
            return value
    elif len(pieces) <= 1 and (not pieces or pieces[0].lower() in PARTITION_UNITS):
        return value
    raise ConfigError(
        f"--partition-by {value!r} is not a partitioning: give COLUMN or COLUMN:day|hour|month|"
        "year (a DATE, DATETIME or TIMESTAMP column) or COLUMN:START:END:INTERVAL (an integer "
        "column, START < END, INTERVAL > 0)"
    )


def cluster_by(value: str) -> str:
    """Up to four comma-separated columns (--cluster-by); stored as `a,b`."""
    columns = [c.strip() for c in value.split(",")]
    for column in columns:
        identifier(column, "clustering column (--cluster-by)")
    if len(columns) > MAX_CLUSTER_COLUMNS or len(set(columns)) != len(columns):
        raise ConfigError(
            f"--cluster-by {value!r} must name 1 to {MAX_CLUSTER_COLUMNS} different columns"
        )
    return ",".join(columns)


def zero_dates(value: str) -> str:
    """`fail` (a zero date fails the run, the default) or `null` (it is read as NULL)."""
    return one_of(
        value,
        ZERO_DATES,
        f"zero-date policy {value!r} is not known: use `fail` (a MySQL zero date such as "
        "'0000-00-00' fails the run naming its column, the default) or `null` (it is read "
        "as NULL and counted in the run's warnings) (--zero-dates)",
    )


NESTED = ("struct", "json")


def nested(value: str) -> str:
    """`struct` (nested documents and arrays as structs and lists, the default) or `json`."""
    return one_of(
        value,
        NESTED,
        f"nested setting {value!r} is not known: use `struct` (nested documents and arrays "
        "become structs and lists, the default) or `json` (they become JSON text) (--nested)",
    )


def hop_choice(value: str) -> HopChoice:
    """`--hop` as one line when it is not a hop (not a framed usage box)."""
    try:
        return HopChoice(value)
    except ValueError:
        known = ", ".join(choice.value for choice in HopChoice)
        raise ConfigError(f"hop {value!r} is not known (--hop): use one of {known}") from None
