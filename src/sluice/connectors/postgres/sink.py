"""PostgreSQL sink: binary COPY (ADBC) into a table created with the exact column types.

ADBC's own "create" would declare decimals as bare numeric and JSON as json, so the table is
created first and the COPY appends into it. A replace that needs no deduplication COPYs
straight into the new table beside the live one and swaps it in; merges, appends and
deduplicating replaces COPY into an unlogged staging table and apply the shared SQL steps.

A replace hands the new table the old one's owner, privileges (table and column) and
comments in the swap's transaction. Columns a PostgreSQL source read from varchar(n),
char(n) or an enum are declared so again (see types.py); an enum is created in the target's
schema, or, if sluice created it, extended when the source gained labels. An enum of that
name whose labels cannot be reconciled with the source's (a label the source lacks, another
order, not an enum, or labels to add to an enum that is not sluice's or that the loading
role may not alter) is left alone: the column is declared text, with a warning.

PostgreSQL gives every table a row type named after it, in the same namespace as enums, so
an enum and a table never share a name in a schema: sluice never creates an enum named like
the sink table or any relation there (its columns load as text instead, with the warning),
and before a load it moves an enum of its own that holds the sink table's name aside when
nothing but tables it loads uses it (see _clear_name); their columns keep it under its new
name. The enums it creates carry a comment saying so; only those does it ever extend, drop
or rename.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.adbc_sink import AdbcSinkBase
from sluice.connectors.base import LoadRequest, LoadResult, SinkCapabilities
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import close_quietly, connect, number_params, translate
from sluice.connectors.postgres.ranges import refuse_out_of_range
from sluice.connectors.postgres.types import (
    SIZED_TEXT,
    SinkColumn,
    enum_of,
    is_subsequence,
    sink_column,
    to_wire,
)
from sluice.connectors.postgres.udts import ensure_udts, udt_of
from sluice.connectors.sqlquote import quote_ident
from sluice.connectors.sqlsink import STATE_TABLE, Change
from sluice.core.errors import StageError, TerminalError
from sluice.core.faults import crash_point
from sluice.core.models import LoadMode, TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

log = logging.getLogger("sluice.postgres")

_MAX_IDENTIFIER_BYTES = 63
# format_type's numeric: unconstrained, or (precision, scale); the scale is negative or above
# the precision only since PostgreSQL 15.
_NUMERIC = re.compile(r"^numeric(?:\((\d+),(-?\d+)\))?$")
_NUMERIC_MAX_PRECISION = 1000
_GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END"
_GRANT_OPTION = "CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END"
# The statements that give the new table ($2) the privileges and comments of the live one
# ($1), written by the server so that every name and literal is quoted by its own rules.
# When either table has an ACL, the new one's (from default privileges, if any) is revoked
# and the live one's granted entry by entry; column privileges and comments follow for the
# columns both tables have. Grantors become the table's owner.
_CARRY_OVER_SQL = f"""
WITH live AS (SELECT oid, relowner, relacl FROM pg_class WHERE oid = to_regclass($1)),
fresh AS (SELECT oid, relowner, relacl FROM pg_class WHERE oid = to_regclass($2)),
pairs AS (
    SELECT f.oid AS fresh_oid, la.attname, la.attacl, la.attnum, l.oid AS live_oid
    FROM live l CROSS JOIN fresh f
    JOIN pg_attribute la ON la.attrelid = l.oid AND la.attnum > 0 AND NOT la.attisdropped
    JOIN pg_attribute fa ON fa.attrelid = f.oid AND fa.attname = la.attname
        AND NOT fa.attisdropped
)
SELECT statement FROM (
    SELECT 1 AS step, format('REVOKE ALL ON TABLE %s FROM %s', f.oid::regclass, {_GRANTEE})
        AS statement
    FROM live l CROSS JOIN fresh f
    CROSS JOIN LATERAL aclexplode(coalesce(f.relacl, acldefault('r', f.relowner))) a
    WHERE l.relacl IS NOT NULL OR f.relacl IS NOT NULL
    GROUP BY f.oid, a.grantee
    UNION ALL
    SELECT 2, format('GRANT %s ON TABLE %s TO %s%s', string_agg(a.privilege_type, ', '),
        f.oid::regclass, {_GRANTEE}, {_GRANT_OPTION})
    FROM live l CROSS JOIN fresh f
    CROSS JOIN LATERAL aclexplode(coalesce(l.relacl, acldefault('r', l.relowner))) a
    WHERE l.relacl IS NOT NULL OR f.relacl IS NOT NULL
    GROUP BY f.oid, a.grantee, a.is_grantable
    UNION ALL
    SELECT 3, format('GRANT %s (%I) ON TABLE %s TO %s%s', string_agg(a.privilege_type, ', '),
        p.attname, p.fresh_oid::regclass, {_GRANTEE}, {_GRANT_OPTION})
    FROM pairs p CROSS JOIN LATERAL aclexplode(p.attacl) a
    GROUP BY p.fresh_oid, p.attname, a.grantee, a.is_grantable
    UNION ALL
    SELECT 4, format('COMMENT ON TABLE %s IS %L', f.oid::regclass, d.description)
    FROM live l CROSS JOIN fresh f
    JOIN pg_description d ON d.objoid = l.oid AND d.classoid = 'pg_class'::regclass
        AND d.objsubid = 0
    UNION ALL
    SELECT 5, format('COMMENT ON COLUMN %s.%I IS %L', p.fresh_oid::regclass, p.attname,
        d.description)
    FROM pairs p JOIN pg_description d ON d.objoid = p.live_oid
        AND d.classoid = 'pg_class'::regclass AND d.objsubid = p.attnum
) AS carried ORDER BY step, statement
"""
_OWNER_SQL = (
    "SELECT l.relowner <> f.relowner, quote_ident(pg_get_userbyid(l.relowner)) "
    "FROM pg_class l, pg_class f WHERE l.oid = to_regclass($1) AND f.oid = to_regclass($2)"
)
# The comment on every enum sluice creates: an enum without it is someone else's.
_OURS = "created by sluice for columns read from a source enum"
_ENUM_SQL = (
    "SELECT t.typtype = 'e', format_type(t.oid, NULL), (SELECT coalesce(json_agg(e.enumlabel "
    "ORDER BY e.enumsortorder), '[]')::text FROM pg_enum e WHERE e.enumtypid = t.oid), "
    "coalesce(obj_description(t.oid, 'pg_type') = $3, false) "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = $1 AND t.typname = $2"
)
_CREATE_ENUM_SQL = (
    "SELECT format('CREATE TYPE %I.%I AS ENUM (%s)', $1::text, $2::text, (SELECT "
    "string_agg(quote_literal(u.label), ', ' ORDER BY u.n) FROM "
    "json_array_elements_text($3::json) WITH ORDINALITY AS u(label, n))), "
    "format('COMMENT ON TYPE %I.%I IS %L', $1::text, $2::text, $4::text)"
)
# _ENUM_SQL's columns for a type given by its spelling ($1): a live column's type.
_ENUM_OF_TYPE_SQL = (
    "SELECT t.typtype = 'e', format_type(t.oid, NULL), (SELECT coalesce(json_agg(e.enumlabel "
    "ORDER BY e.enumsortorder), '[]')::text FROM pg_enum e WHERE e.enumtypid = t.oid), "
    "coalesce(obj_description(t.oid, 'pg_type') = $2, false) "
    "FROM pg_type t WHERE t.oid = to_regtype($1)"
)
_RELATION_SQL = (
    "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2"
)
# A type that keeps a table of its name from being created: not a relation's row type, and
# not an array type (PostgreSQL renames one of those out of a new table's way itself).
_BLOCKING_TYPE_SQL = (
    "SELECT t.typtype = 'e', format_type(t.oid, NULL), "
    "coalesce(obj_description(t.oid, 'pg_type') = $3, false) "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = $1 AND t.typname = $2 AND t.typrelid = 0 "
    "AND NOT EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid)"
)
# Everything that depends on a type ($1) or on its array type: columns (of tables, views,
# composite types), functions, domains, ... Each with whether it is a column of a table sluice
# loads ({loaded}, over the table c and its schema n).
_DEPENDENTS_SQL = """
SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
    coalesce(c.relkind IN ('r', 'p') AND (starts_with(c.relname, '__sluice_') OR {loaded}),
        false)
FROM pg_type t
JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid IN (t.oid, t.typarray)
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.oid = to_regtype($1)
    AND NOT (d.classid = 'pg_type'::regclass AND d.objid = t.typarray)
"""
# ALTER COLUMN TYPE refused for the objects using the column (feature_not_supported: a view,
# rule, policy or trigger; dependent_objects_still_exist).
_DEPENDENT_SQLSTATES = frozenset({"0A000", "2BP01"})
# The objects that use column $2 of table $1 and that PostgreSQL does not rebuild itself on
# ALTER COLUMN TYPE (indexes and constraints it does): a view or rule named by its relation.
_COLUMN_DEPENDENTS_SQL = """
SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass THEN
    CASE v.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' ELSE 'rule on ' END
        || v.oid::regclass::text
    ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END
FROM pg_depend d
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
LEFT JOIN pg_class v ON v.oid = r.ev_class
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1)
    AND a.attname = $2 AND d.deptype = 'n'
    AND NOT (d.classid = 'pg_rewrite'::regclass AND r.ev_class = d.refobjid)
ORDER BY 1
"""
_SCHEMA_SQL = "SELECT 1 FROM pg_namespace WHERE nspname = $1"
_NAME_TAKEN_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = $1 AND t.typname = $2) OR EXISTS (SELECT 1 FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)"
)


class PostgresSink(AdbcSinkBase):
    type_name: ClassVar[str] = "postgres"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        max_identifier_length=_MAX_IDENTIFIER_BYTES, supports_schemas=True
    )
    # Spelled as format_type() spells them; sized text types: see type_change.
    widenings: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("SMALLINT", "INTEGER"),
            ("SMALLINT", "BIGINT"),
            ("INTEGER", "BIGINT"),
            ("REAL", "DOUBLE PRECISION"),
        }
    )
    # The shared steps write `?`; libpq numbers its parameters.
    param_marker: ClassVar[str] = "${}"
    # A load COPYs over this many connections once it has sent `split_rows` rows (small
    # loads stay on one), in pieces of about `copy_batch_bytes`: see _ParallelCopy.
    copy_streams: ClassVar[int] = 2
    split_rows: ClassVar[int] = 200_000
    copy_batch_bytes: ClassVar[int] = 4 << 20

    def __init__(self, creds: PostgresCreds) -> None:
        self.creds = creds
        self._connection: Connection = connect(creds)
        self._cursor: Cursor = self._connection.cursor()
        # Column -> the sink's enum type, for the load under way (see _ensure_enums).
        self._enum_types: dict[str, str] = {}
        # Column -> the sink's domain or composite type, for the load under way (udts.py).
        self._udt_types: dict[str, str] = {}
        self._server_version_num: int | None = None  # asked once, when first needed
        # The sink table and key of the load under way, for errors about its rows.
        self._loading: tuple[TableRef, tuple[str, ...]] | None = None

    def _run(self, sql: str, params: tuple[Any, ...]) -> None:
        import adbc_driver_manager

        try:
            if params:
                self._cursor.execute(number_params(sql, self.param_marker), params)
            else:
                self._cursor.execute(sql)
        except adbc_driver_manager.Error as exc:
            raise translate(exc, self.creds) from exc

    def ping(self) -> str:
        version = str(self.query("SELECT current_setting('server_version')")[0][0])
        return f"PostgreSQL {version.split()[0]} at {self.creds.location()}"

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        # The catalog, not information_schema: format_type keeps numeric(p,s) and varchar(n),
        # and to_regclass resolves an unqualified name by search_path exactly as SQL does.
        rows = self.query(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
            (self.qualified(table),),
        )
        return {str(name): str(kind) for name, kind in rows} if rows else None

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        if self.table_columns(table) is None:
            return None
        rows = self.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (self.qualified(table),),
        )
        return tuple(str(row[0]) for row in rows)

    def sibling_names(self, schema: str | None) -> list[str]:
        where = "n.nspname = $1" if schema else "n.nspname = current_schema()"
        rows = self.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE {where} AND c.relkind IN ('r', 'p') AND starts_with(c.relname, '__sluice_')",
            (schema,) if schema else (),
        )
        return [str(row[0]) for row in rows]

    def type_change(self, live: str, incoming: str) -> Change:
        """Sized text types widen to a larger size or to text; a live varchar at least as
        wide as the incoming type is kept; anything that would change or cut a value is refused.

        text takes varchar(n), char(n) and enum values as they are, and text[] arrays of
        varchar(n) and char(n): earlier versions declared these columns so, and such a table
        keeps loading. An enum column becomes text when the lake's column no longer maps to
        it (a conflicting type in the sink, a new source). numeric is kept when it holds every
        incoming value, else widened to hold both (see _numeric_union).
        """
        if _NUMERIC.match(live) and _NUMERIC.match(incoming):
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

    def _is_enum(self, type_name: str) -> bool:
        rows = self.query(
            "SELECT typtype = 'e' FROM pg_type WHERE oid = to_regtype(?)", (type_name,)
        )
        return bool(rows and rows[0][0])

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult:
        self._clear_name(request.table)
        self._loading = (request.table, request.primary_key)
        self._enum_types = self._ensure_enums(request.table, request.schema)
        self._udt_types = self._ensure_udts(request.table, request.schema)
        if request.mode is LoadMode.REPLACE and not request.dedupe:
            return self._replace_directly(request, iter(batches))
        return super().load(request, batches)

    def _namespace(self, table: TableRef) -> str:
        return table.schema or str(self.query("SELECT current_schema()")[0][0])

    def _ensure_schema(self, schema: str | None) -> None:
        """Create the schema of a schema-qualified table when it does not exist yet.

        Looked up first, and never for an unqualified table (its schema is the default one):
        CREATE SCHEMA checks CREATE on the database before IF NOT EXISTS looks for the
        schema, and a least-privilege loader has CREATE only on the schema it loads into.
        """
        if schema and not self.query(_SCHEMA_SQL, (schema,)):
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")

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
        found = self.query(_BLOCKING_TYPE_SQL, (namespace, table.name, _OURS))
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
        rows = self.query(_DEPENDENTS_SQL.format(loaded=loaded), (spelling,))
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
            head = wanted.encode()[: _MAX_IDENTIFIER_BYTES - len(suffix)].decode(errors="ignore")
            name = head + suffix
            if not self.query(_NAME_TAKEN_SQL, (namespace, name))[0][0]:
                return name
        raise TerminalError(f"no free name in schema {namespace} to move type {wanted} to")

    def final_types(self, request: LoadRequest, staging: TableRef) -> dict[str, str]:
        # Staged as text, declared varchar(n) or char(n): an assignment cast converts them.
        types = super().final_types(request, staging)
        for column in self._sink_columns(request.schema):
            if column.direct:
                types[column.name] = column.declared
        return types

    def _sink_columns(self, schema: pa.Schema) -> list[SinkColumn]:
        version = self.server_version_num()
        return [
            sink_column(
                field,
                self._enum_types.get(field.name),
                server_version_num=version,
                udt_type=self._udt_types.get(field.name),
            )
            for field in schema
        ]

    def bound_sql(self, aggregate: str, quoted: str, kind: pa.DataType) -> str:
        # The driver reads oid (unsigned) as a signed int32: the text of every integer is exact.
        if pa.types.is_integer(kind):
            return f"{aggregate}({quoted})::text"
        return super().bound_sql(aggregate, quoted, kind)

    def _ensure_udts(self, table: TableRef, schema: pa.Schema) -> dict[str, str]:
        if not any(udt_of(field) for field in schema):
            return {}
        self._ensure_schema(table.schema)
        return ensure_udts(self, table, self._namespace(table), schema)

    def server_version_num(self) -> int:
        """The server's version as a number (150004 for 15.4): some types depend on it."""
        if self._server_version_num is None:
            rows = self.query("SELECT current_setting('server_version_num')::int")
            self._server_version_num = int(rows[0][0])
        return self._server_version_num

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
            if name == table.name or self.query(_RELATION_SQL, (namespace, name)):
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
        found = self.query(_ENUM_OF_TYPE_SQL, (live, _OURS)) if live is not None else []
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
        found = self.query(_ENUM_SQL, (namespace, name, _OURS))
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
        """The spelling of `found` (a row of _ENUM_SQL) once it takes `labels`, else None."""
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
        lookup = (namespace, name, _OURS)
        created = (namespace, name, json.dumps(labels), _OURS)
        [(create, comment)] = self.query(_CREATE_ENUM_SQL, created)
        self.begin()
        try:
            self.execute(str(create))
            self.execute(str(comment))
            self.commit()
        except StageError:
            self.rollback()
            found = self.query(_ENUM_SQL, lookup)  # another load just made it
            if not found:
                raise
            return found
        return self.query(_ENUM_SQL, lookup)

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

    def _replace_directly(
        self, request: LoadRequest, batches: Iterator[pa.RecordBatch]
    ) -> LoadResult:
        """A replace that needs no deduplication: COPY straight into the new table.

        The shared path stages the rows and copies them again into the new table; here they
        are written once, into the table built beside the live one, and its primary key is
        built afterwards (one sort is cheaper than maintaining the index row by row). Then
        one transaction drops the live table, renames the new one into its place and records
        the lake batches: readers see the old table or the new one, never neither.
        """
        self.prepare(request)
        fresh = self.sibling(request.table, "__sluice_new_", request.run_id)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
        rows = self._create_and_copy(fresh, request.schema, batches, kept=True)
        try:
            if request.primary_key:
                keys = ", ".join(quote_ident(c) for c in request.primary_key)
                self.execute(f"ALTER TABLE {self.qualified(fresh)} ADD PRIMARY KEY ({keys})")
            self.begin()
            try:
                self._swap_in(request, fresh)
                self._record_batches(request)
                crash_point("load:inside_transaction")
                self.commit()
            except BaseException:
                self.rollback()
                raise
        except BaseException:
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
            raise
        return LoadResult(rows_loaded=rows, rows_in_table=rows)

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

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        return self._create_and_copy(staging, schema, batches, kept=False)

    def _create_and_copy(
        self,
        table: TableRef,
        schema: pa.Schema,
        batches: Iterator[pa.RecordBatch],
        *,
        kept: bool,
    ) -> int:
        """Create `table` for `schema` and fill it by binary COPY; dropped again on failure.

        A staging table (not `kept`) is unlogged: its rows are copied once more into the
        final table, so WAL for them would only be written to be thrown away.
        """
        columns = self._sink_columns(schema)
        self._ensure_schema(table.schema)
        created = [c.copied if kept else c.staged for c in columns]
        definition = ", ".join(
            f"{quote_ident(c.name)} {kind}" for c, kind in zip(columns, created, strict=True)
        )
        kind = "TABLE" if kept else "UNLOGGED TABLE"
        self.execute(f"CREATE {kind} {self.qualified(table)} ({definition})")
        try:
            rows = _ParallelCopy(self, table, columns, batches).run(self._cursor)
            final = [c.declared if kept or not c.direct else c.staged for c in columns]
            self._retype(table, columns, created, final)
        except BaseException:
            # The shared load only cleans up after the apply step; this table is ours to drop.
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(table)}")
            raise
        return rows

    def _retype(
        self, table: TableRef, columns: list[SinkColumn], created: list[str], final: list[str]
    ) -> None:
        """Text loaded for a richer type becomes that type: one ALTER, so one table rewrite."""
        changes = [
            f"ALTER COLUMN {quote_ident(c.name)} TYPE {want} USING {quote_ident(c.name)}::{want}"
            for c, have, want in zip(columns, created, final, strict=True)
            if have != want
        ]
        if changes:
            self.execute(f"ALTER TABLE {self.qualified(table)} {', '.join(changes)}")

    def _replace(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        super()._replace(request, staging, columns, types)
        self._rename_primary_key(request.table)

    def before_swap(self, live: TableRef, fresh: TableRef) -> None:
        """The new table takes the live one's owner, privileges and comments (if it exists)."""
        names = (self.qualified(live), self.qualified(fresh))
        owner = self.query(_OWNER_SQL, names)
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
        for (statement,) in self.query(_CARRY_OVER_SQL, names):
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

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        live = (self.table_columns(table) or {}).get(column)
        if live is not None and _NUMERIC.match(live) and _NUMERIC.match(new_type):
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
            if getattr(exc.__cause__, "sqlstate", None) not in _DEPENDENT_SQLSTATES:
                raise
            self.execute("ROLLBACK TO SAVEPOINT sluice_alter")
            raise self._blocked_alter(table, column, live, new_type, exc) from exc
        self.execute("RELEASE SAVEPOINT sluice_alter")
        return new_type

    def _blocked_alter(
        self, table: TableRef, column: str, live: str | None, new_type: str, exc: StageError
    ) -> TerminalError:
        """What keeps the column from changing type, and what to do: the same every retry."""
        rows = self.query(_COLUMN_DEPENDENTS_SQL, (self.qualified(table), column))
        blockers = "; ".join(str(row[0]) for row in rows) or "see the server's error"
        return TerminalError(
            f"column {column!r} of sink table {table} must change from {live} to {new_type} "
            f"to hold the lake's values, but PostgreSQL refuses while other objects use it "
            f"({blockers}): drop those objects, change the column by hand (ALTER TABLE "
            f"{self.qualified(table)} ALTER COLUMN {quote_ident(column)} TYPE {new_type}) and "
            f"create them again, or drop them; then run the load again ({exc})"
        )

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()


class _ParallelCopy:
    """One stream of batches COPYed into `table`, over more than one connection when large.

    The driver encodes a batch, then waits while the server parses it, so one COPY keeps
    only one side busy at a time. Once `split_rows` rows have gone and more follow, helper
    connections join, each taking the next batch of the same stream: encoding and parsing
    then overlap. A helper that cannot connect is skipped. The first failure stops every
    stream; the caller drops the half-filled table.
    """

    def __init__(
        self,
        sink: PostgresSink,
        table: TableRef,
        columns: list[SinkColumn],
        batches: Iterator[pa.RecordBatch],
    ) -> None:
        self.creds = sink.creds
        self.table = table
        self.columns = columns
        self.wire_schema = pa.schema([pa.field(c.name, c.wire) for c in columns])
        self.target, self.key = sink._loading or (table, ())
        self.helpers_wanted = sink.copy_streams - 1
        self.split_rows = sink.split_rows
        self.piece_bytes = sink.copy_batch_bytes
        self.rows = 0
        self._batches = batches
        self._lock = threading.Lock()
        self._ended = False
        self._grown = False
        self._failure: BaseException | None = None  # raised as is: the driver keeps only text
        self._errors: list[BaseException] = []
        self._helpers: list[tuple[Connection, Cursor, threading.Thread]] = []

    def run(self, cursor: Cursor) -> int:
        """COPY everything, starting on `cursor`; the rows loaded."""
        import adbc_driver_manager

        try:
            self._ingest(cursor)
        except adbc_driver_manager.Error as exc:
            self._errors.insert(0, exc)
        finally:
            self._ended = True
            for connection, helper, thread in self._helpers:
                thread.join()
                close_quietly(connection, helper)
        if self._failure is not None:
            raise self._failure from (self._errors[0] if self._errors else None)
        if self._errors:
            error = translate(self._errors[0], self.creds)
            if _SAYS_NOTHING.search(str(error)):
                error = TerminalError(
                    f"{error} (the driver gave no reason: its binary encoder refused a value "
                    f"of sink table {self.target}, and sluice's checks of dates, times and "
                    "timestamps passed; nothing was loaded. Find the value by reading the lake "
                    "batch with DuckDB (see `sluice lake ls`), or load the table into DuckDB)"
                )
            raise error from self._errors[0]
        return self.rows

    def _ingest(self, cursor: Cursor) -> None:
        reader = pa.RecordBatchReader.from_batches(self.wire_schema, self._take())
        cursor.adbc_ingest(self.table.name, reader, mode="append", db_schema_name=self.table.schema)

    def _take(self) -> Iterator[pa.RecordBatch]:
        """Batches for one COPY: the next of the shared stream each time, until it ends."""
        while True:
            try:
                with self._lock:
                    batch = None if self._ended else next(self._batches, None)
                    if batch is None:
                        self._ended = True
                        return
                    self.rows += batch.num_rows
                    grow = not self._grown and self.rows >= self.split_rows
                    self._grown = self._grown or grow
                if grow:
                    self._add_helpers()
                wire = to_wire(batch, self.columns, self.wire_schema)
                refuse_out_of_range(wire, self.target, self.key)
            except BaseException as exc:
                self._failure = self._failure or exc
                self._ended = True
                raise
            yield from _slices(wire, self.piece_bytes)

    def _add_helpers(self) -> None:
        for _ in range(self.helpers_wanted):
            try:
                connection = connect(self.creds)
            except StageError as exc:
                log.warning("loading on fewer connections: %s", exc)
                return
            cursor = connection.cursor()
            thread = threading.Thread(target=self._helper, args=(cursor,), daemon=True)
            self._helpers.append((connection, cursor, thread))
            thread.start()

    def _helper(self, cursor: Cursor) -> None:
        # Not swallowed: run() raises it, on the caller's thread.
        try:
            self._ingest(cursor)
        except BaseException as exc:  # noqa: BLE001
            self._errors.append(exc)
            self._ended = True


# The driver's whole message when its COPY encoder fails: no column, no value.
_SAYS_NOTHING = re.compile(r"writing COPY data:\s*$")


def _slices(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """`batch` in pieces of about `max_bytes`: the driver buffers the encoded form of what it
    is handed, so smaller pieces keep a COPY's memory small (4 MiB pieces load as fast)."""
    rows = max(1, batch.num_rows * max_bytes // max(batch.nbytes, 1))
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def _name_taken(what: str, namespace: str, table: TableRef, why: str = "") -> TerminalError:
    return TerminalError(
        f"{what} in schema {namespace} has the name of sink table {table}; PostgreSQL names "
        "every table's row type after the table, so the table cannot be created while the "
        f"type exists{why}: rename or drop the type, or load into another table "
        "(`sluice table edit NAME --sink-table NEW`)"
    )


def _numeric_union(one: str, other: str) -> str:
    """The narrowest numeric type (as format_type spells it) holding the values of both.

    Its digits before the point are the larger of the two (p - s), its scale the larger
    scale; unconstrained when either is, or when that needs more than numeric's 1000 digits.
    """
    bounds = []
    for spelled in (one, other):
        match = _NUMERIC.match(spelled)
        if match is None or match.group(1) is None:
            return "numeric"
        precision, scale = int(match.group(1)), int(match.group(2))
        bounds.append((precision - scale, scale))
    digits = max(whole for whole, _ in bounds)
    scale = max(scale for _, scale in bounds)
    if digits + scale > _NUMERIC_MAX_PRECISION:
        return "numeric"
    return f"numeric({digits + scale},{scale})"


def _room(sized: re.Match[str]) -> int | None:
    """Characters a sized text type holds; None when unbounded."""
    return int(sized.group(2)) if sized.group(2) else None


def _holds(found: tuple[Any, ...], labels: tuple[str, ...]) -> bool:
    """Whether a found enum (a row of _ENUM_SQL) takes `labels`, as it is or extended."""
    is_enum, _, have_json, _ = found
    have = tuple(json.loads(have_json))
    return bool(is_enum) and (is_subsequence(labels, have) or is_subsequence(have, labels))


def _pkey_name(table: str) -> str:
    """PostgreSQL's own default, `<table>_pkey`, cut to the identifier limit in bytes."""
    suffix = "_pkey"
    head = table.encode()[: _MAX_IDENTIFIER_BYTES - len(suffix)].decode(errors="ignore")
    return head + suffix
