"""Enums in a PostgreSQL sink: a column a PostgreSQL source read from an enum is declared
with an enum of that name, created in the target's schema or, if sluice created it, extended
when the source gained labels. One whose labels cannot be reconciled (a label the source
lacks, another order, not an enum, or labels to add to one that is not sluice's) is left
alone: the column is declared text, with a warning.

PostgreSQL names every table's row type after the table, in the enums' namespace: sluice
never creates an enum named like a relation there, and before a load moves an enum of its
own holding the sink table's name aside when only tables it loads use it (_clear_name).
The enums it creates carry a comment saying so; only those does it extend, drop or rename.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sluice.connectors.postgres.types import enum_of, is_subsequence
from sluice.connectors.sinkstate import STATE_TABLE
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import StageError, TerminalError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    pass

from sluice.connectors.postgres.catalog_sql import (
    BLOCKING_TYPE_SQL,
    CREATE_ENUM_SQL,
    DEPENDENTS_SQL,
    ENUM_OF_TYPE_SQL,
    ENUM_SQL,
    MAX_IDENTIFIER_BYTES,
    NAME_TAKEN_SQL,
    OURS,
    RELATION_SQL,
)
from sluice.connectors.postgres.namespaces import PostgresNamespaces

log = logging.getLogger("sluice.postgres")


class PostgresEnums(PostgresNamespaces):
    """The enum lifecycle and the namespace helpers the other steps share."""

    _enum_types: dict[str, str]  # column -> the sink's enum, for the load under way

    def _is_enum(self, type_name: str) -> bool:
        rows = self.query(
            "SELECT typtype = 'e' FROM pg_type WHERE oid = to_regtype(?)", (type_name,)
        )
        return bool(rows and rows[0][0])

    def _clear_name(self, table: TableRef) -> None:
        """Make sure no enum keeps `table` from being created (at the swap's rename, after
        all the copying, and on every retry).

        An enum sluice made there is moved aside: dropped when nothing uses it (a failed
        load made it), else renamed when only tables sluice loads use it; their columns keep
        it under the new name at their next loads (see _live_enum). An
        enum the application uses too (a column, a function, a domain), or another type of
        that name, is not sluice's to move: the load stops before any work, saying what to
        do. A function that names the enum only in its body leaves no trace in the catalog,
        so it cannot be told from no use at all.
        """
        namespace = self._namespace(table)
        found = self.query(BLOCKING_TYPE_SQL, (namespace, table.name, OURS))
        if not found:
            return
        is_enum, spelling, ours = found[0]
        if not (is_enum and ours):
            raise _name_taken(f"type {spelling}", namespace, table)
        if self._dropped(str(spelling)):
            log.info("dropped enum %s, unused, to make room for sink table %s", spelling, table)
            return
        foreign = self._foreign_users(str(spelling))
        if foreign:
            # Renamed, the enum would be renamed under them too; a function naming it in its
            # body, or an application's query, would then stop working.
            raise _name_taken(
                f"enum {spelling}",
                namespace,
                table,
                ", and sluice moves an enum of its own aside only while no more than the "
                f"tables it loads use it (also used by: {'; '.join(foreign)})",
            )
        aside = self._free_type_name(namespace, f"{table.name}_enum")
        self.execute(f"ALTER TYPE {spelling} RENAME TO {quote_ident(aside)}")
        log.warning(
            "enum %s had the name of sink table %s: renamed to %s; the columns of other "
            "tables that use it keep it",
            spelling,
            table,
            aside,
        )

    def _foreign_users(self, spelling: str) -> list[str]:
        """What uses the enum (or its array type), other than tables sluice loads."""
        # A table sluice loads has rows in the state table; a table named __sluice_* is a
        # sibling a load builds (the prefix is reserved in the sink's schemas).
        loaded = (
            f"EXISTS (SELECT 1 FROM {quote_ident(STATE_TABLE)} s WHERE s.sink_table = "
            "n.nspname || '.' || c.relname OR (s.sink_table = c.relname "
            "AND to_regclass(quote_ident(c.relname)) = c.oid))"
            if self.table_columns(TableRef(STATE_TABLE)) is not None
            else "false"
        )
        rows = self.query(DEPENDENTS_SQL.format(loaded=loaded), (spelling,))
        return sorted({str(row[0]) for row in rows if not row[1]})

    def _dropped(self, spelling: str) -> bool:
        """Drop an enum sluice made if nothing uses it; whether it is gone."""
        try:
            self.execute(f"DROP TYPE {spelling}")  # RESTRICT: refused while a column uses it
        except StageError:
            return False
        return True

    def _free_type_name(self, namespace: str, wanted: str) -> str:
        """`wanted`, or it with a number, cut to the identifier limit: no type or relation's."""
        for number in range(1000):
            suffix = f"_{number}" if number else ""
            head = wanted.encode()[: MAX_IDENTIFIER_BYTES - len(suffix)].decode(errors="ignore")
            name = head + suffix
            if not self.query(NAME_TAKEN_SQL, (namespace, name))[0][0]:
                return name
        raise TerminalError(f"no free name in schema {namespace} to move type {wanted} to")

    def _ensure_enums(self, table: TableRef, schema: pa.Schema) -> dict[str, str]:
        """The sink's enum for each column read from a source enum; see the module docstring.

        Done before the load's transaction (autocommit): a label added to an enum can only
        be used once its ALTER TYPE has committed.
        """
        wanted = {field.name: enum for field in schema if (enum := enum_of(field)) is not None}
        if not wanted:
            return {}
        namespace = self._namespace(table)
        self._ensure_schema(table.schema)
        live = self.table_columns(table) or {}
        resolved: dict[tuple[str, tuple[str, ...]], str | None] = {}
        blocked = set()
        for enum in set(wanted.values()):
            name, labels = enum
            if name == table.name or self.query(RELATION_SQL, (namespace, name)):
                # Created, it would keep the table from being created (or be refused itself).
                blocked.add(enum)
            else:
                resolved[enum] = self._enum_type(namespace, name, labels)
        types = {}
        for column, enum in wanted.items():
            if enum in blocked:
                type_name = self._live_enum(namespace, table, column, live.get(column), enum)
            else:
                type_name = resolved[enum]
            if type_name is not None:
                types[column] = type_name
        return types

    def _live_enum(
        self,
        namespace: str,
        table: TableRef,
        column: str,
        live: str | None,
        enum: tuple[str, tuple[str, ...]],
    ) -> str | None:
        """The enum a column whose source enum's name is taken by a table keeps, if any.

        That column usually has the enum sluice renamed aside for that table (see
        _clear_name). Turning it into text would be refused while a view reads the column,
        on every retry, and would change the application's column for no gain: it keeps its
        enum whenever that takes the source's labels. A new column has no such enum: text.
        """
        name, labels = enum
        found = self.query(ENUM_OF_TYPE_SQL, (live, OURS)) if live is not None else []
        if found and found[0][0]:
            return self._reconciled(found[0], namespace, str(found[0][1]), labels)
        log.warning(
            "enum %s would share its name with a table in schema %s: column %s of %s is "
            "loaded as text",
            name,
            namespace,
            column,
            table,
        )
        return None

    def _enum_type(self, namespace: str, name: str, labels: tuple[str, ...]) -> str | None:
        """The sink's spelling of enum `name` in `namespace` with (at least) `labels`."""
        found = self.query(ENUM_SQL, (namespace, name, OURS))
        # Ours, for labels the source no longer has, and unused: made by a load that failed
        # before any column used it. Made again, as if that load had never run.
        if (
            found
            and found[0][3]
            and not _holds(found[0], labels)
            and self._dropped(str(found[0][1]))
        ):
            found = []
        if not found:
            found = self._create_enum(namespace, name, labels)
        return self._reconciled(found[0], namespace, name, labels)

    def _reconciled(
        self, found: tuple[Any, ...], namespace: str, name: str, labels: tuple[str, ...]
    ) -> str | None:
        """The spelling of `found` (a row of ENUM_SQL) once it takes `labels`, else None."""
        is_enum, spelling, have_json, ours = found
        have = tuple(json.loads(have_json))
        if is_enum and is_subsequence(labels, have):
            return str(spelling)
        # Only sluice's own enums are extended: a label added to an enum cannot be removed
        # again, and the application's enum is not sluice's to change (nor, for a loader
        # that does not own it, can it be).
        if is_enum and ours and is_subsequence(have, labels):
            try:
                self._add_labels(str(spelling), have, labels)
            except TerminalError as exc:
                # Another role made it, say: the same failure would come on every retry.
                log.warning(
                    "enum %s could not take the labels %s (it has %s): columns of that enum "
                    "are loaded as text: %s",
                    spelling,
                    list(labels),
                    list(have),
                    exc,
                )
                return None
            return str(spelling)
        log.warning(
            "type %s in schema %s is not an enum with the labels %s (it has %s%s): columns "
            "of that enum are loaded as text",
            name,
            namespace,
            list(labels),
            list(have) if is_enum else "no labels",
            "" if ours or not is_enum else "; sluice extends only the enums it created",
        )
        return None

    def _create_enum(
        self, namespace: str, name: str, labels: tuple[str, ...]
    ) -> list[tuple[Any, ...]]:
        """Create the enum with its comment (committed: the COPY connections must see it)."""
        lookup = (namespace, name, OURS)
        created = (namespace, name, json.dumps(labels), OURS)
        [(create, comment)] = self.query(CREATE_ENUM_SQL, created)
        self.begin()
        try:
            self.execute(str(create))
            self.execute(str(comment))
            self.commit()
        except StageError:
            self.rollback()
            found = self.query(ENUM_SQL, lookup)  # another load just made it
            if not found:
                raise
            return found
        return self.query(ENUM_SQL, lookup)

    def _add_labels(self, spelling: str, have: tuple[str, ...], labels: tuple[str, ...]) -> None:
        """Add the labels the source gained, each beside its neighbour in the source's order."""
        present = set(have)
        for position, label in enumerate(labels):
            if label in present:
                continue
            sql = "ALTER TYPE %s ADD VALUE IF NOT EXISTS %L"
            params: tuple[str, ...] = (spelling, label)
            if position:
                sql, params = sql + " AFTER %L", (*params, labels[position - 1])
            elif have:  # `have` keeps the source's order: its first label follows this one
                sql, params = sql + " BEFORE %L", (*params, have[0])
            placeholders = ", ".join("?::text" for _ in params)
            [(statement,)] = self.query(f"SELECT format('{sql}', {placeholders})", params)
            self.execute(str(statement))
            present.add(label)


def _name_taken(what: str, namespace: str, table: TableRef, why: str = "") -> TerminalError:
    return TerminalError(
        f"{what} in schema {namespace} has the name of sink table {table}; PostgreSQL names "
        "every table's row type after the table, so the table cannot be created while the "
        f"type exists{why}: rename or drop the type, or load into another table "
        "(`sluice table edit NAME --sink-table NEW`)"
    )


def _holds(found: tuple[Any, ...], labels: tuple[str, ...]) -> bool:
    """Whether a found enum (a row of ENUM_SQL) takes `labels`, as it is or extended."""
    is_enum, _, have_json, _ = found
    have = tuple(json.loads(have_json))
    return bool(is_enum) and (is_subsequence(labels, have) or is_subsequence(have, labels))
