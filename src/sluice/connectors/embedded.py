"""Creds shared by the embedded systems: a database file's path."""

from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator

from sluice.connectors.base import Creds


class FileCreds(Creds):
    """A database file; a relative path is made absolute when the connection is stored."""

    path_fields: ClassVar[tuple[str, ...]] = ("path",)
    path: str

    @field_validator("path")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a file")
        return value
