"""MySQL's zero dates ('0000-00-00', a zero month or day): a table's policy, fail or NULL.

No date type anywhere holds such a value, and connectorx stops the read on one with a Rust
panic that names neither column nor row. Under `fail` (the default) the source then asks the
server which column holds one (`first_zero_date_sql`) and fails naming it and both fixes.
Under `null` each date column is selected as NULL where it holds a zero date, beside a flag
column the server computes from the same value, so the read counts what it changed per column
and the run's warnings say so: the change is the user's choice, and never silent.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.mysql.types import DATE_TYPES, MySQLColumn
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError

# The flag columns a `null` read adds (one per date column) and takes off again.
FLAG_PREFIX = "__sluice_zero_date_"


def _is_zero(quoted: str) -> str:
    return f"(MONTH({quoted}) = 0 OR DAYOFMONTH({quoted}) = 0)"


class ZeroDatesToNull:
    """The select list items of a read under the `null` policy, and what it changed."""

    def __init__(self, columns: list[MySQLColumn]) -> None:
        self.dated = [column for column in columns if column.data_type in DATE_TYPES]
        self.changed = dict.fromkeys((column.name for column in self.dated), 0)

    def expression(self, column: MySQLColumn) -> str:
        if column not in self.dated:
            return column.expression()
        quoted = quote_ident(column.name, "`")
        return f"IF({_is_zero(quoted)}, NULL, {quoted}) AS {quoted}"

    def flags(self) -> list[str]:
        """One flag column per date column: 1 where the value was a zero date."""
        return [
            f"{_is_zero(quote_ident(column.name, '`'))} AS {FLAG_PREFIX}{index}"
            for index, column in enumerate(self.dated)
        ]

    def count(self, batch: pa.RecordBatch) -> None:
        for index, column in enumerate(self.dated):
            found = pc.sum(batch.column(f"{FLAG_PREFIX}{index}")).as_py()
            self.changed[column.name] += int(found or 0)

    def warnings(self, table: str) -> list[str]:
        return [
            f"{count} zero date(s) in column {name!r} of {table} read as NULL (zero-date "
            "policy null)"
            for name, count in self.changed.items()
            if count
        ]


def first_zero_date_sql(column: MySQLColumn, relation: str, where: str) -> str:
    """The first zero date of `column` in the rows a read selected, as text (or no row)."""
    test = _is_zero(quote_ident(column.name, "`"))
    where = f"{where} AND {test}" if where else f" WHERE {test}"
    return f"SELECT CAST({quote_ident(column.name, '`')} AS CHAR) FROM {relation}{where} LIMIT 1"


def zero_date_refusal(column: MySQLColumn, table: str, value: str, config: str) -> TerminalError:
    quoted = quote_ident(column.name, "`")
    return TerminalError(
        f"column {column.name!r} ({column.column_type}) of {table} holds the zero date "
        f"{value!r}, which no date or timestamp can hold; nothing was published and the "
        f"watermark did not move: to read zero dates as NULL (counted in the run's warnings) "
        f"run `sluice table edit {config} --zero-dates null`, or read the table through a view "
        f"that maps them, e.g. IF(MONTH({quoted}) = 0 OR DAYOFMONTH({quoted}) = 0, NULL, "
        f"{quoted}) AS {quoted}, or fix the rows"
    )
