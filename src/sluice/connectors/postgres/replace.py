"""A PostgreSQL sink's replace: a new table built beside the live one takes its owner,
privileges and comments, and is swapped in within one transaction."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sluice.connectors.base import LoadRequest
from sluice.connectors.sinkstate import STATE_TABLE
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import StageError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    pass

from sluice.connectors.postgres.catalog_sql import (
    CARRY_OVER_SQL,
    MAX_IDENTIFIER_BYTES,
    OWNER_SQL,
)
from sluice.connectors.postgres.enums import PostgresEnums

log = logging.getLogger("sluice.postgres")


class PostgresReplace(PostgresEnums):
    """Replace steps: straight into a new table, the swap, and what the new table keeps."""

    def _swap_in(self, request: LoadRequest, fresh: TableRef) -> None:
        self.before_swap(request.table, fresh)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(request.table)}")
        self.execute(
            f"ALTER TABLE {self.qualified(fresh)} RENAME TO {quote_ident(request.table.name)}"
        )
        self._rename_primary_key(request.table)
        self.execute(
            f"DELETE FROM {quote_ident(STATE_TABLE)} WHERE sink_table = ?", (str(request.table),)
        )

    def _replace(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        super()._replace(request, staging, columns, types)
        self._rename_primary_key(request.table)

    def before_swap(self, live: TableRef, fresh: TableRef) -> None:
        """The new table takes the live one's owner, privileges and comments (if it exists)."""
        names = (self.qualified(live), self.qualified(fresh))
        owner = self.query(OWNER_SQL, names)
        if owner and owner[0][0]:
            # Only a role that may act as the owner can hand the table to it; without that,
            # the table stays the loading role's and the privileges below are still copied.
            self.execute("SAVEPOINT sluice_owner")
            try:
                self.execute(f"ALTER TABLE {names[1]} OWNER TO {owner[0][1]}")
            except StageError as exc:
                self.execute("ROLLBACK TO SAVEPOINT sluice_owner")
                log.warning("%s keeps the loading role as its owner: %s", live, exc)
            self.execute("RELEASE SAVEPOINT sluice_owner")
        for (statement,) in self.query(CARRY_OVER_SQL, names):
            self.execute(str(statement))

    def _rename_primary_key(self, table: TableRef) -> None:
        # The primary key index was named after the table built beside the live one; with
        # the live table gone (same transaction) it can take the usual name.
        rows = self.query(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(?) AND contype = 'p'",
            (self.qualified(table),),
        )
        if rows:
            self.execute(
                f"ALTER TABLE {self.qualified(table)} RENAME CONSTRAINT "
                f"{quote_ident(str(rows[0][0]))} TO {quote_ident(_pkey_name(table.name))}"
            )


def _pkey_name(table: str) -> str:
    """PostgreSQL's own default, `<table>_pkey`, cut to the identifier limit in bytes."""
    suffix = "_pkey"
    head = table.encode()[: MAX_IDENTIFIER_BYTES - len(suffix)].decode(errors="ignore")
    return head + suffix
