"""Creds of a SQLite database: the file's path."""

from __future__ import annotations

from sluice.connectors.embedded import FileCreds


class SQLiteCreds(FileCreds):
    pass
