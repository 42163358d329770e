"""A config database that cannot be used, said in one line with the fix (no traceback).

The driver's own words are kept (its first line), after what sluice knows they mean: a file
that is not a SQLite database or is damaged, a read-only file or directory, an unreachable
server. `sluice init` repairs none of these, so the message says what does.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from sluice.config.database import display_url
from sluice.core.errors import ConfigError

# (words in SQLite's message, what it means and how to fix it)
_SQLITE_MEANINGS = (
    (
        ("file is not a database", "malformed", "disk image"),
        "is not a SQLite database or is damaged: restore it from a backup, or point "
        "--config-db / SLUICE_CONFIG_DB at the right file (`sluice init` does not repair it)",
    ),
    (
        ("readonly", "read-only"),
        "is read-only: make the file, and the directory it is in (SQLite writes its journal "
        "beside it), writable by this user",
    ),
    (
        ("unable to open",),
        "cannot be opened: make the file and its directory readable and writable by this "
        "user, or point --config-db / SLUICE_CONFIG_DB at the right file",
    ),
)


def config_db_error(exc: BaseException, url: str) -> ConfigError:
    """What a driver error (a DBAPIError) from the config database means to the user."""
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
    said = text.splitlines()[0] if text else type(exc).__name__
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        where = f"the config database {Path(parsed.database or '')}"
        for words, meaning in _SQLITE_MEANINGS:
            if any(word in said.lower() for word in words):
                return ConfigError(f"{where} {meaning} ({said})")
        return ConfigError(f"{where} failed: {said}")
    return ConfigError(
        f"the config database {display_url(url)} cannot be used: {said}; check that the server "
        "is running and reachable, and the URL, user and database are right"
    )


def empty_file_error(path: Path) -> ConfigError:
    return ConfigError(
        f"the config database {path} is an empty file (0 bytes): if it held your config, "
        "restore it from a backup; to start afresh, run `sluice init`"
    )
