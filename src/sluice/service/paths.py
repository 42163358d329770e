"""Relative file paths in creds: made absolute when stored, and found in older configs.

A relative SQLite or DuckDB `path` was read against the working directory of whoever ran:
a cron job or systemd unit elsewhere silently made a new, empty database and loaded into it.
"""

from __future__ import annotations

import os
from typing import Any

from sluice.connectors import registry

MEMORY = ":memory:"


def _relative(value: Any) -> bool:
    return isinstance(value, str) and value != MEMORY and not os.path.isabs(value)


def make_absolute(type_name: str, creds: dict[str, Any]) -> list[str]:
    """Make the type's path fields absolute in `creds` (in place); one note per change."""
    notes = []
    for field in registry.path_fields(type_name):
        value = creds.get(field)
        if isinstance(value, str) and _relative(value):
            creds[field] = os.path.abspath(value)
            notes.append(f"{field} {value!r} stored as {creds[field]!r}")
    return notes


def relative_paths(type_name: str, creds: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, value) of the path fields still relative (stored by an older version)."""
    fields = registry.path_fields(type_name)
    return [(f, str(creds[f])) for f in fields if _relative(creds.get(f))]
