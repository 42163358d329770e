"""Creds of a DuckDB database: the file's path (relative paths are from the working directory)."""

from __future__ import annotations

from pydantic import field_validator

from sluice.connectors.base import Creds


class DuckDBCreds(Creds):
    path: str

    @field_validator("path")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a file")
        return value
