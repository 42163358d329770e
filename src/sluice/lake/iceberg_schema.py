"""An Iceberg table's schema from a lake batch: its columns documented, its evolution, and
the columns whose Parquet statistics pyiceberg cannot hold.

pyiceberg is imported by the functions that need it, not by this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from sluice.core.errors import TerminalError
from sluice.lake.manifest import Manifest

if TYPE_CHECKING:
    from pyiceberg.table import Table, Transaction

METRICS_COLUMN = "write.metadata.metrics.column"
# The dates and timestamps (in microseconds) Python's datetime holds, which pyiceberg turns a
# column's Parquet min/max into.
_PYTHON_DAYS = (-719_162, 2_932_896)
_PYTHON_MICROS = (-62_135_596_800_000_000, 253_402_300_799_999_999)
_DECLARED = b"sluice.declared_type"
_SYSTEM = b"sluice.system"
_DOC = b"doc"


def beyond_python_dates(manifest: Manifest) -> list[str]:
    """Date and timestamp columns holding an infinity or a year outside 1..9999: Iceberg
    keeps counts only for them (pyiceberg cannot hold such a min/max as a Python value)."""
    bounds = manifest.column_bounds or {}
    infinities = manifest.column_infinities or {}
    found = []
    for field in manifest.schema:
        kind = field.type
        if pa.types.is_date32(kind):
            limits = _PYTHON_DAYS
        elif pa.types.is_timestamp(kind) and kind.unit != "ns":  # ns is stored as a long
            limits = _PYTHON_MICROS
        else:
            continue
        low, high = bounds.get(field.name) or (None, None)
        outside = (
            isinstance(low, int)
            and isinstance(high, int)
            and not (limits[0] <= low and high <= limits[1])
        )
        if infinities.get(field.name) or outside:
            found.append(field.name)
    return found


def documented(stored: pa.Schema, logical: pa.Schema) -> pa.Schema:
    """The stored schema with each column's declared type (and its own type, where stored as
    another) as the Iceberg field's doc, which engines show."""
    fields = []
    for field, own in zip(stored, logical, strict=True):
        metadata = own.metadata or {}
        notes = []
        if _DECLARED in metadata:
            system = metadata.get(_SYSTEM, b"the source").decode()
            notes.append(f"declared {metadata[_DECLARED].decode()} in {system}")
        if field.type != own.type:
            notes.append(f"sluice type {own.type}, stored as {field.type}")
        if notes:
            field = field.with_metadata({**(field.metadata or {}), _DOC: "; ".join(notes).encode()})
        fields.append(field)
    return pa.schema(fields)


def evolve(tx: Transaction, table: Table, schema: pa.Schema, *, full: bool, where: str) -> None:
    """Make the table's schema the batch's. A full batch replaces every row, so a column it
    lacks or whose type changed is dropped first; an incremental one may only add columns
    and widen types as Iceberg allows (the schema contract refuses the rest before)."""
    from pyiceberg.catalog import Catalog
    from pyiceberg.exceptions import ValidationError

    current = table.schema()
    wanted = Catalog._convert_schema_if_needed(schema)
    if current.as_struct() == wanted.as_struct():
        return
    if full:
        wanted_types = {field.name: field.field_type for field in wanted.fields}
        dropped = [
            field.name
            for field in current.fields
            if wanted_types.get(field.name) != field.field_type
        ]
        if dropped:
            with tx.update_schema(allow_incompatible_changes=True) as update:
                for name in dropped:
                    update.delete_column(name)
    try:
        with tx.update_schema() as update:
            update.union_by_name(schema)
    except (ValidationError, ValueError) as exc:
        raise TerminalError(
            f"lake table {where}: the batch's columns do not fit its Iceberg table ({exc}); "
            "reload the table (`sluice table reload`) to replace it with the new columns"
        ) from None
