"""A SQL system's facts as class data, which shared code reads instead of naming systems."""

from __future__ import annotations

import string
from dataclasses import dataclass

from sluice.core.models import TableRef

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True)
class Dialect:
    default_schema: str  # where an unqualified table name lands
    folds_ascii_case: bool  # quoted names still match whatever the case of A-Z
    max_identifier_bytes: int | None  # longer names are cut to this many bytes of UTF-8
    supports_schemas: bool = True
    transactional_ddl: bool = True  # CREATE/DROP/ALTER roll back with the transaction
    identifier_quote: str = '"'
    param_marker: str = "?"  # how the driver spells a parameter; "${}" numbers them
    # Tables are partitioned and clustered as each table's --partition-by/--cluster-by say.
    table_layout: bool = False

    def quote(self, name: str) -> str:
        mark = self.identifier_quote
        return mark + name.replace(mark, mark * 2) + mark

    def table_key(self, sink_tablename: str) -> tuple[str, str]:
        """The (schema, table) this system loads `sink_tablename` into (always quoted):
        equal keys, one table."""
        ref = TableRef.parse(sink_tablename)
        parts = []
        for part in (ref.schema or self.default_schema, ref.name):
            if self.max_identifier_bytes is not None:
                part = part.encode()[: self.max_identifier_bytes].decode(errors="ignore")
            parts.append(part.translate(_ASCII_LOWER) if self.folds_ascii_case else part)
        return parts[0], parts[1]


# A system no connector describes: taken to fold case, so a clash is refused rather than missed.
UNKNOWN = Dialect(default_schema="", folds_ascii_case=True, max_identifier_bytes=None)
