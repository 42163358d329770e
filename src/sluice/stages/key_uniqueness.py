"""Hop 1's check that the configured primary key is unique in what one read returned.

A merge keeps one row per key, so a configured key narrower than the source's real one would
collapse distinct rows into one in the sink, and the run would report success. One read of the
source returns each of its rows once, so a key value seen twice in it means the key is not a
key: the run fails before its batch is published, naming the key, examples of the repeated
values and the primary key the source's own catalog declares.

Only the key columns are kept while the read streams; when the configured key is the one the
source declares (the source's database enforces it), nothing is kept or checked.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.errors import TerminalError

EXAMPLES = 5


class KeyUniqueness:
    def __init__(self, table: str, configured: tuple[str, ...], declared: tuple[str, ...]) -> None:
        self.table = table
        self.configured = configured
        self.declared = declared
        # The source's database enforces its own primary key (and any superset of it).
        self.enforced = bool(declared) and set(declared) <= set(configured)
        self._keys: list[pa.RecordBatch] = []

    def add(self, batch: pa.RecordBatch) -> None:
        if self.enforced or not self.configured or batch.num_rows == 0:
            return
        if any(c not in batch.schema.names for c in self.configured):
            return  # check_source and extract already name a missing column
        self._keys.append(batch.select(list(self.configured)))

    def check(self) -> None:
        """Fail, before anything is published, when a key value occurs more than once."""
        if not self._keys:
            return
        keys = pa.Table.from_batches(self._keys)
        self._keys = []
        counts = keys.group_by(list(self.configured)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
        if repeated.num_rows == 0:
            return
        shown = "; ".join(
            ", ".join(f"{c}={row[c]!r}" for c in self.configured) + f" ({row['count_all']} rows)"
            for row in repeated.slice(0, EXAMPLES).to_pylist()
        )
        more = "; ..." if repeated.num_rows > EXAMPLES else ""
        key = ", ".join(self.configured)
        if self.declared:
            real = ", ".join(self.declared)
            fix = (
                f"The source's primary key is ({real}): use it with "
                f"`sluice table edit {self.table} --primary-key {','.join(self.declared)}`"
            )
        else:
            fix = (
                "The source declares no primary key: give columns that are unique together "
                f"with `sluice table edit {self.table} --primary-key COL,COL`"
            )
        raise TerminalError(
            f"primary key ({key}) of {self.table} is not unique in the source: "
            f"{repeated.num_rows} value(s) occur more than once in one read ({shown}{more}), "
            "and a merge on it would collapse distinct rows into one; nothing was published. " + fix
        )
