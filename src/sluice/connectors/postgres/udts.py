"""Domains and composite types in a PostgreSQL sink: declared again as the source had them.

The source records each definition (types.UDT_JSON) in the column's field metadata. The sink
uses a type of that name in the sink table's schema when it has the same definition, creates
a missing composite type (its attribute types are checked to be plain type names, then must
exist in the sink), and creates a missing domain only when it has no CHECK constraint: a
CHECK is an expression, which sluice does not run from a lake file's metadata, so the load
fails with the statement to run instead. A type of that name with another definition fails
the load too, naming both. Nothing is ever altered or dropped. Values are converted by
PostgreSQL's own casts (base type to domain, record text to composite), which check them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sluice.connectors.postgres.types import UDT_JSON, UDT_TYPE, declared_type_of
from sluice.core.errors import StageError, TerminalError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from sluice.connectors.postgres.sink import PostgresSink

_FOUND_SQL = (
    f"SELECT format_type(t.oid, NULL), ({UDT_JSON.format(t='t')})::text FROM pg_type t "
    "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = ? AND t.typname = ?"
)
# A type as format_type prints it, and nothing else: (schema-qualified) names, quoted or not,
# words (double precision, with time zone), a numeric modifier, array brackets.
_IDENTIFIER = r'(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")'
_TYPE_NAME = re.compile(
    rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER})?(?: [a-z]+)*(?:\(\d+(?:,\d+)?\))?"
    r"(?: with(?:out)? time zone)?(?:\[\])*$"
)


@dataclass(frozen=True)
class Udt:
    kind: str  # "domain" or "composite"
    name: str
    base: str | None = None
    not_null: bool = False
    checks: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Udt:
        body: dict[str, Any] = json.loads(text)
        return cls(
            kind=str(body["kind"]),
            name=str(body["name"]),
            base=body.get("base"),
            not_null=bool(body.get("not_null", False)),
            checks=tuple(sorted(body.get("checks") or ())),
            attributes=tuple((str(a), str(t)) for a, t in body.get("attributes") or ()),
        )

    def describe(self) -> str:
        if self.kind == "domain":
            checks = "".join(f" {check}" for check in self.checks)
            return f"domain over {self.base}{' NOT NULL' if self.not_null else ''}{checks}"
        listed = ", ".join(f"{name} {kind}" for name, kind in self.attributes)
        return f"composite type ({listed})"


def udt_of(field: pa.Field) -> Udt | None:
    value = (field.metadata or {}).get(UDT_TYPE)
    return None if value is None else Udt.parse(value.decode())


def ensure_udts(
    sink: PostgresSink, table: TableRef, namespace: str, schema: pa.Schema
) -> dict[str, str]:
    """Column -> its declared type in the sink, for columns read from a domain or composite.

    Done before the load's transaction, like enums: the COPY connections must see the type.
    `namespace` is the sink table's schema, which exists.
    """
    wanted = {field.name: udt for field in schema if (udt := udt_of(field)) is not None}
    spellings: dict[Udt, str] = {}
    for udt in set(wanted.values()):
        spellings[udt] = _spelling(sink, namespace, table, udt)
    declared = {}
    for field in schema:
        udt = wanted.get(field.name)
        if udt is not None:
            arrays = "[]" * (declared_type_of(field) or "").count("[]")
            declared[field.name] = spellings[udt] + arrays
    return declared


def _spelling(sink: PostgresSink, namespace: str, table: TableRef, udt: Udt) -> str:
    found = sink.query(_FOUND_SQL, (namespace, udt.name))
    if not found:
        _create(sink, namespace, table, udt)
        found = sink.query(_FOUND_SQL, (namespace, udt.name))
    spelling, definition = found[0]
    have = Udt.parse(str(definition)) if definition is not None else None
    if have != udt:
        shown = have.describe() if have is not None else "a type of another kind"
        raise TerminalError(
            f"sink table {table} needs {udt.name} as the source has it ({udt.describe()}), "
            f"but schema {namespace} of the sink has {udt.name} as {shown}; nothing was "
            f"loaded. Rename or drop the sink's {udt.name}, or read the column as "
            "text in a view on the source"
        )
    return str(spelling)


def _create(sink: PostgresSink, namespace: str, table: TableRef, udt: Udt) -> None:
    qualified = _quote(namespace) + "." + _quote(udt.name)
    if udt.kind == "domain":
        statement = f"CREATE DOMAIN {qualified} AS {_checked_type(udt.base or '', udt)}"
        statement += " NOT NULL" if udt.not_null else ""
        if udt.checks:
            shown = statement + "".join(f" {check}" for check in udt.checks)
            raise TerminalError(
                f"sink table {table} needs domain {udt.name} ({udt.describe()}), which schema "
                f"{namespace} of the sink lacks; sluice does not create CHECK constraints "
                f"from the lake's metadata. Create it there ({shown}) and run again, or read "
                f"the column as {udt.base} in a view on the source"
            )
    else:
        listed = ", ".join(
            f"{_quote(name)} {_checked_type(kind, udt)}" for name, kind in udt.attributes
        )
        statement = f"CREATE TYPE {qualified} AS ({listed})"
    try:
        sink.execute(statement)
    except StageError as exc:
        if sink.query(_FOUND_SQL, (namespace, udt.name)):
            return  # another load just made it: compared by the caller
        raise TerminalError(
            f"sink table {table} needs {udt.name} ({udt.describe()}), which sluice could not "
            f"create in schema {namespace} of the sink: {exc}; create it there and run again"
        ) from exc


def _checked_type(kind: str, udt: Udt) -> str:
    """`kind` when it is only a type name (it is spliced into DDL), else an error."""
    if not _TYPE_NAME.match(kind):
        raise TerminalError(
            f"the lake's definition of {udt.name} names the type {kind!r}, which is not a "
            "type name; the lake's metadata is damaged: reload the table"
        )
    return kind


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
