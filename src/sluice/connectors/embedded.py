"""Creds shared by the embedded systems: a database file's path."""

from __future__ import annotations

from pydantic import field_validator

from sluice.connectors.base import Creds


class FileCreds(Creds):
    """A database file; relative paths are from the working directory."""

    path: str

    @field_validator("path")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a file")
        return value
