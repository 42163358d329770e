"""Column types in a PostgreSQL sink that widen as the source's do: which changes keep,
widen or refuse a live column, and the ALTER that widens one (or says what blocks it)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sluice.connectors.postgres.types import SIZED_TEXT
from sluice.connectors.sqlquote import quote_ident
from sluice.connectors.sqlsink import Change
from sluice.core.errors import StageError, TerminalError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    pass

from sluice.connectors.postgres.catalog_sql import (
    COLUMN_DEPENDENTS_SQL,
    DEPENDENT_SQLSTATES,
    NUMERIC,
    NUMERIC_MAX_PRECISION,
)
from sluice.connectors.postgres.replace import PostgresReplace


class PostgresEvolve(PostgresReplace):
    """type_change and alter_column_type, for the shared steps' schema evolution."""

    def type_change(self, live: str, incoming: str) -> Change:
        """Sized text types widen to a larger size or to text; a live varchar at least as
        wide as the incoming type is kept; anything that would change or cut a value is refused.

        text takes varchar(n), char(n) and enum values as they are, and text[] arrays of
        varchar(n) and char(n): earlier versions declared these columns so, and such a table
        keeps loading. An enum column becomes text when the lake's column no longer maps to
        it (a conflicting type in the sink, a new source). numeric is kept when it holds every
        incoming value, else widened to hold both (see _numeric_union).
        """
        if NUMERIC.match(live) and NUMERIC.match(incoming):
            return Change.KEEP if _numeric_union(live, incoming) == live else Change.WIDEN
        have, want = SIZED_TEXT.match(live), SIZED_TEXT.match(incoming)
        arrays = (live.endswith("[]"), incoming.endswith("[]"))
        if have and want and arrays[0] == arrays[1]:
            if have.group(0) == want.group(0):
                return Change.KEEP
            room, needed = _room(want), _room(have)
            if have.group(1) == "character varying" and (
                needed is None or (room is not None and needed >= room)
            ):
                # A source column that narrowed: the live varchar holds every value of the
                # narrower type as it is (char values stay padded, as the lake holds them).
                return Change.KEEP
            # A live char(n) wider than the incoming one is refused too: it pads every value to
            # its own n, and although char comparisons ignore the padding, the value a reader
            # gets (bpcharout, a row's text) and octet_length differ from the source's.
            fits = room is None or (needed is not None and room >= needed)
            shrinks = have.group(1) == "character varying" and want.group(1) == "character"
            return Change.WIDEN if fits and not shrinks else Change.REFUSE
        if have and incoming == ("text[]" if arrays[0] else "text"):
            return Change.WIDEN
        if want and live == ("text[]" if arrays[1] else "text"):
            return Change.KEEP
        if live == "text" and incoming in self._enum_types.values():
            return Change.KEEP
        if incoming == "text" and self._is_enum(live):
            return Change.WIDEN
        return super().type_change(live, incoming)

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        live = (self.table_columns(table) or {}).get(column)
        if live is not None and NUMERIC.match(live) and NUMERIC.match(new_type):
            # Not the incoming type itself: it may lack the live column's scale or digits.
            new_type = _numeric_union(live, new_type)
        # A savepoint: the load's transaction must still answer what blocked the ALTER.
        self.execute("SAVEPOINT sluice_alter")
        try:
            self.execute(
                f"ALTER TABLE {self.qualified(table)} ALTER COLUMN {quote_ident(column)} "
                f"TYPE {new_type}"
            )
        except StageError as exc:
            if getattr(exc.__cause__, "sqlstate", None) not in DEPENDENT_SQLSTATES:
                raise
            self.execute("ROLLBACK TO SAVEPOINT sluice_alter")
            raise self._blocked_alter(table, column, live, new_type, exc) from exc
        self.execute("RELEASE SAVEPOINT sluice_alter")
        return new_type

    def _blocked_alter(
        self, table: TableRef, column: str, live: str | None, new_type: str, exc: StageError
    ) -> TerminalError:
        """What keeps the column from changing type, and what to do: the same every retry."""
        rows = self.query(COLUMN_DEPENDENTS_SQL, (self.qualified(table), column))
        blockers = "; ".join(str(row[0]) for row in rows) or "see the server's error"
        return TerminalError(
            f"column {column!r} of sink table {table} must change from {live} to {new_type} "
            f"to hold the lake's values, but PostgreSQL refuses while other objects use it "
            f"({blockers}): drop those objects, change the column by hand (ALTER TABLE "
            f"{self.qualified(table)} ALTER COLUMN {quote_ident(column)} TYPE {new_type}) and "
            f"create them again, or drop them; then run the load again ({exc})"
        )


def _numeric_union(one: str, other: str) -> str:
    """The narrowest numeric type (as format_type spells it) holding the values of both.

    Its digits before the point are the larger of the two (p - s), its scale the larger
    scale; unconstrained when either is, or when that needs more than numeric's 1000 digits.
    """
    bounds = []
    for spelled in (one, other):
        match = NUMERIC.match(spelled)
        if match is None or match.group(1) is None:
            return "numeric"
        precision, scale = int(match.group(1)), int(match.group(2))
        bounds.append((precision - scale, scale))
    digits = max(whole for whole, _ in bounds)
    scale = max(scale for _, scale in bounds)
    if digits + scale > NUMERIC_MAX_PRECISION:
        return "numeric"
    return f"numeric({digits + scale},{scale})"


def _room(sized: re.Match[str]) -> int | None:
    """Characters a sized text type holds; None when unbounded."""
    return int(sized.group(2)) if sized.group(2) else None
