"""What the embedded systems share: a database file's path, its folder, one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import field_validator

from sluice.connectors.base import Creds
from sluice.core.errors import TerminalError


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


def make_folder(path: Path, system: str) -> None:
    """The folder of a sink's database file, made when missing; one clear line when it cannot
    be (a file in the way, no permission) rather than an OSError taken for the lake's."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TerminalError(
            f"cannot make the folder of {system} sink {path}: {exc.strerror or exc}; fix the "
            "destination's path"
        ) from exc


def one_line(exc: BaseException) -> str:
    """A driver's message on one line (the SQLite driver appends the query on a second)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
