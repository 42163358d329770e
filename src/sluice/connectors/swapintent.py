"""The state kept by a SQL sink whose DDL commits on its own (Snowflake, BigQuery): a replace
that must swap tables cannot record its batches in the swap's transaction, so it records an
intent first, swaps, then replaces the intent with the batches in one transaction.

Killed between the swap and that transaction, the intent row (batch id -1) says the table
holds the old rows or the new ones: the next load holds nothing (and takes every current
batch again: a replace or a merge gives the same table either way); an append must refuse,
which `interrupted_replace` lets the sink say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sluice.connectors.base import LoadRequest
from sluice.connectors.sinkstate import STATE_TABLE, SqlSinkState
from sluice.core.clock import iso, utcnow
from sluice.core.errors import TerminalError
from sluice.core.faults import crash_point
from sluice.core.models import TableRef

log = logging.getLogger("sluice.sink")

# The state row that marks a replace whose swap may have happened (batch ids are positive).
INTENT_BATCH = -1
# State rows per INSERT: a statement's values stay well within any driver's limits.
STATE_ROWS_PER_INSERT = 1000


class SwapIntents(SqlSinkState):
    """Intent rows and batched state rows, over the sink's execute/query primitives."""

    def swap_with_intent(self, request: LoadRequest, swap: Callable[[], None]) -> None:
        """Record the intent, run `swap` (one atomic statement), then replace the intent by
        the load's batches in one transaction. A refused swap removes the intent again (a
        lost answer is a TransientError: the intent stays, as the swap may have happened)."""
        crash_point("load:inside_transaction")
        if request.before_commit is not None:
            request.before_commit()  # the last moment the load may still be refused
        self.execute(
            f"INSERT INTO {self.q(STATE_TABLE)} "
            "(sink_table, lake_table, batch_id, run_id, loaded_at, batch_uid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (str(request.table), request.lake_table, INTENT_BATCH, request.run_id,
             iso(utcnow()), "replace"),
        )  # fmt: skip
        try:
            swap()
        except TerminalError:
            self.execute(
                f"DELETE FROM {self.q(STATE_TABLE)} WHERE sink_table = ? AND batch_id = ?",
                (str(request.table), INTENT_BATCH),
            )
            raise
        crash_point("load:after_swap")
        self.begin()
        try:
            self.execute(
                f"DELETE FROM {self.q(STATE_TABLE)} WHERE sink_table = ?", (str(request.table),)
            )
            self._record_batches(request)
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def interrupted_replace(self, table: TableRef) -> int | None:
        """The run whose replace of `table` stopped between its swap and its state rows."""
        rows = self.query(
            f"SELECT run_id FROM {self.q(STATE_TABLE)} WHERE sink_table = ? AND batch_id = ?",
            (str(table), INTENT_BATCH),
        )
        return int(rows[0][0]) if rows else None

    def held_identities(self, table: TableRef, lake_table: str) -> dict[int, str | None]:
        held = super().held_identities(table, lake_table)
        if INTENT_BATCH in held:
            log.warning("the last replace of %s was interrupted: loading it whole", table)
            return {}
        return held

    def _record_batches(self, request: LoadRequest) -> None:
        """One INSERT per thousand batches: each statement is a round trip (a job, on some)."""
        if not request.batch_ids:
            return
        loaded_at = iso(utcnow())
        uids = request.batch_uids or (None,) * len(request.batch_ids)
        rows = list(zip(request.batch_ids, uids, strict=True))
        for start in range(0, len(rows), STATE_ROWS_PER_INSERT):
            chunk = rows[start : start + STATE_ROWS_PER_INSERT]
            params: list[Any] = []
            for batch_id, uid in chunk:
                params += [str(request.table), request.lake_table, batch_id, request.run_id,
                           loaded_at, uid]  # fmt: skip
            self.execute(
                f"INSERT INTO {self.q(STATE_TABLE)} "
                "(sink_table, lake_table, batch_id, run_id, loaded_at, batch_uid) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)),
                tuple(params),
            )
