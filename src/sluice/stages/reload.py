"""Reloads: the command every "start over" error names, and the check that makes it needed.

A reload run (`sluice table reload`) reads the table in full into a new lake batch marked
`reload`, and hop 2 swaps the sink table in whole from it. Batch identities (a UUID per
batch, recorded by the sink beside the sequence) tell when the sink's state belongs to
another lake than the one there now: then nothing is loaded, and the error names the reload.
"""

from __future__ import annotations

from sluice.core.errors import TerminalError
from sluice.core.models import Hop
from sluice.lake.manifest import BatchRef
from sluice.stages.context import StageContext


def reload_hint(ctx: StageContext, hop: Hop | None = None) -> str:
    """The fix, as a command that works for this table."""
    scope = f" --hop {hop.value}" if hop is Hop.DL_TO_SINK else ""
    what = (
        "to swap the sink table in whole from the lake"
        if hop is Hop.DL_TO_SINK
        else "to read the table afresh into the lake and swap the sink table in whole"
    )
    return f"run `sluice table reload {ctx.table.source_tablename}{scope}` {what}"


def check_identities(
    ctx: StageContext, committed: list[BatchRef], held: dict[int, str | None]
) -> None:
    """Refuse a sink state that records batches of another lake than this one.

    A batch the sink holds must be the lake's batch of that sequence (same UUID, where both
    know one), or an older one retention has removed since; one numbered past the lake's
    newest means the lake started again (moved aside, restored from backup, a new lake path).
    """
    if not held:
        return
    # A compacted batch answers for each batch it replaced (stages/compaction.py).
    identities = {s: u for m in committed for s, u in m.identities().items()}
    newest = max((m.sequence for m in committed), default=0)
    for sequence in sorted(held):
        uid = held[sequence]
        lake_uid = identities.get(sequence)
        if sequence > newest:
            why = f"the lake's newest batch is {newest}" if newest else "the lake has none"
        elif uid and lake_uid and uid != lake_uid:
            why = f"the lake's batch {sequence} is another one: id {lake_uid}, the sink's {uid}"
        else:
            continue
        raise TerminalError(
            f"sink table {ctx.sink_ref} holds lake batch {sequence} of another lake ({why}): "
            "the table's lake was replaced, restored or removed since the sink loaded it, so "
            "batch numbers no longer match and a load could skip or double rows; nothing was "
            f"loaded: {reload_hint(ctx)}"
        )
