"""Creds of a DuckDB database: the file's path."""

from __future__ import annotations

from sluice.connectors.embedded import FileCreds


class DuckDBCreds(FileCreds):
    pass
