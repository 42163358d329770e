"""A lake column's declared type, neutral of the system: the type as the source system spells
it (`varchar(20)`, `decimal(65,30)`) and the system it came from, in the field's metadata.

A sink's connector reads the declared types of its own system (a PostgreSQL sink declares
`varchar(20)` again for a column a PostgreSQL source read); others decide by the Arrow type.
Lakes written before kept the type under a per-system key, which reads the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

DECLARED = b"sluice.declared_type"
SYSTEM = b"sluice.system"
# Keys of earlier lakes: one per system, the declared type as the value.
_LEGACY = {b"sluice.pg_type": b"postgres", b"sluice.mysql_type": b"mysql"}


def declaring(system: str, declared: str) -> dict[bytes, bytes]:
    """The field metadata recording that `system` declared the column as `declared`."""
    return {DECLARED: declared.encode(), SYSTEM: system.encode()}


def neutral(metadata: Mapping[bytes, bytes] | None) -> dict[bytes, bytes]:
    """`metadata` with an earlier lake's per-system key as the neutral pair."""
    found = dict(metadata or {})
    for key, system in _LEGACY.items():
        if key in found:
            value = found.pop(key)
            found.setdefault(DECLARED, value)
            found.setdefault(SYSTEM, system)
    return found


def declared_by(field: pa.Field | Mapping[bytes, bytes] | None, system: str) -> str | None:
    """The type `system` declared the column as, or None (another system's, or none)."""
    metadata = field.metadata if isinstance(field, pa.Field) else field
    found = neutral(metadata)
    if found.get(SYSTEM) != system.encode() or DECLARED not in found:
        return None
    return found[DECLARED].decode()
