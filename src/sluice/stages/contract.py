"""Hop 1 applies the table's schema contract (core/schema_contract.py) before it reads.

The source's columns now are compared with the lake's newest batch. What the contract
refuses fails the run before anything is written, naming the column, the change and the two
fixes (`sluice table reload`, or the contract setting that accepts it); what it applies is
returned as warnings for the stage log and `sluice status`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from sluice.core.errors import TerminalError
from sluice.core.schema_contract import parse_contract
from sluice.stages.incremental import widens


@dataclass(frozen=True)
class SchemaChanges:
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    widened: tuple[tuple[str, pa.DataType, pa.DataType], ...] = ()
    changed: tuple[tuple[str, pa.DataType, pa.DataType], ...] = ()


def schema_changes(lake: pa.Schema, source: pa.Schema) -> SchemaChanges:
    """Arrow types only: a source's declared types (field metadata) may differ freely."""
    old = {f.name: f.type for f in lake}
    new = {f.name: f.type for f in source}
    widened: list[tuple[str, pa.DataType, pa.DataType]] = []
    changed: list[tuple[str, pa.DataType, pa.DataType]] = []
    for name, kind in new.items():
        before = old.get(name)
        if before is None or before == kind:
            continue
        (widened if widens(before, kind) else changed).append((name, before, kind))
    return SchemaChanges(
        added=tuple(n for n in new if n not in old),
        dropped=tuple(n for n in old if n not in new),
        widened=tuple(widened),
        changed=tuple(changed),
    )


@dataclass
class ContractOutcome:
    """What hop 1 writes: the source's schema without discarded columns, and the warnings."""

    schema: pa.Schema
    discarded: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    def project(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.discarded:
            return batch
        return pa.RecordBatch.from_arrays(
            [batch.column(f.name) for f in self.schema], schema=self.schema
        )


def apply_contract(
    table: str, contract_text: str | None, lake: pa.Schema, source: pa.Schema, rows_before: int
) -> ContractOutcome:
    contract = parse_contract(contract_text)
    changes = schema_changes(lake, source)
    reload = f"`sluice table reload {table}`"

    def accept(setting: str) -> str:
        return f"`sluice table edit {table} --schema-contract {setting}`"

    for name, before, after in changes.changed:
        raise TerminalError(
            f"column {name!r} changed type from {before} to {after}: an incompatible change; "
            f"run {reload} to read the table afresh and swap the sink table in whole (or cast "
            "the column in the source back to its old type)"
        )
    if changes.dropped and contract["dropped"] == "freeze":
        names = ", ".join(repr(n) for n in changes.dropped)
        raise TerminalError(
            f"column(s) {names} dropped from the source: the sink would keep their old values "
            f"and get NULL in rows changed from now on; run {reload} to drop them from the sink "
            f"too, or accept that with {accept('dropped=evolve')}"
        )
    if changes.added and contract["added"] == "freeze":
        names = ", ".join(repr(n) for n in changes.added)
        raise TerminalError(
            f"column(s) {names} added in the source, and the table's schema contract freezes "
            f"its columns: take them with {accept('added=evolve')} (or leave them out with "
            f"added=discard)"
        )
    if changes.widened and contract["widened"] == "freeze":
        name, before, after = changes.widened[0]
        raise TerminalError(
            f"column {name!r} widened from {before} to {after}, and the table's schema "
            f"contract freezes types: accept it with {accept('widened=evolve')}, or cast the "
            "column in the source back to its old type"
        )
    outcome = ContractOutcome(schema=source)
    if changes.added and contract["added"] == "discard":
        outcome.discarded = changes.added
        outcome.schema = pa.schema([f for f in source if f.name not in changes.added])
        outcome.warnings.append(
            f"column(s) {', '.join(changes.added)} in the source left out (schema contract "
            f"added=discard); take them with {accept('added=evolve')} and {reload}"
        )
    elif changes.added:
        outcome.warnings.append(
            f"column(s) {', '.join(changes.added)} added; the {rows_before:,} rows loaded "
            f"before hold NULL in them: run {reload} to fill them"
        )
    for name in changes.dropped:
        outcome.warnings.append(
            f"column {name} dropped from the source; the sink keeps it, NULL in rows loaded "
            f"from now on: run {reload} to drop it from the sink too"
        )
    for name, before, after in changes.widened:
        outcome.warnings.append(f"column {name} widened from {before} to {after}")
    return outcome
