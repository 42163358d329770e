"""The secret key's life: what it seals, keeping `init` from replacing it, and rotation.

Sealed values live in four places: sources_config.source_creds,
destinations_config.destination_creds, sluice_settings (the lake options) and
sluice_alert_targets.url. A value is
sealed when its text starts with `fernet:v1:`; plain JSON (a seed-made database) is not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sluice.config import schema as s
from sluice.config.secrets import (
    ENV_KEY,
    SEALED,
    CredsCipher,
    open_with,
    pending_key_file,
    seal_with,
)
from sluice.core.errors import ConfigError
from sluice.core.faults import crash_point

# (table, the column that identifies a row, the sealed column, how a row is named to users)
_CELLS = (
    (s.sources_config, "id", "source_creds", "source", "source_name"),
    (s.destinations_config, "id", "destination_creds", "destination", "destination_name"),
    (s.sluice_settings, "key", "value", "setting", "key"),
    (s.sluice_alert_targets, "name", "url", "alert target", "name"),
)


def count_sealed(engine: Engine) -> int:
    """How many sealed values the database holds (0 for one not created yet)."""
    with engine.connect() as c:
        tables = set(sa.inspect(c).get_table_names())
        return sum(
            c.execute(
                sa.select(sa.func.count()).where(table.c[column].startswith(SEALED))
            ).scalar_one()
            for table, _, column, _, _ in _CELLS
            if table.name in tables
        )


def refuse_new_key(engine: Engine, key_file: Path) -> None:
    """`sluice init` must not create a key while values sealed with another one exist: the new
    key could not open them, and every command that needs them would fail."""
    if os.environ.get(ENV_KEY) or key_file.exists():
        return
    sealed = count_sealed(engine)
    if sealed:
        raise ConfigError(
            f"the secret key file {key_file} is missing, and {sealed} value(s) in the config "
            f"database are sealed with a key: restore that file from a backup (or set "
            f"{ENV_KEY} to that key); `sluice init` does not make a new key, which could not "
            "open them"
        )


@dataclass(frozen=True)
class Rotation:
    resealed: int
    key_file: Path  # where the new key is now
    pending: bool  # True: the key came from SLUICE_SECRET_KEY, which the user must update


def rotate(engine: Engine, cipher: CredsCipher) -> Rotation:
    """Re-seal every sealed value under a new key, in one transaction.

    The new key is written (0600, fsynced) before the transaction, so a crash at any point
    leaves a key for whatever the database holds: before the commit the old key still opens
    everything; after it, the new key (beside the old file as `<key>.new` until it replaces
    it). A value the current key cannot open stops the rotation before anything changes.
    """
    old = cipher.fernet(cipher.raw_key())
    from_env = bool(os.environ.get(ENV_KEY))
    pending = pending_key_file(cipher.key_file)
    raw = _write_pending(pending)
    new = cipher.fernet(raw.decode())

    with engine.connect() as c:
        transaction = c.begin()
        try:
            resealed = _reseal(c, cipher, old, new)
            crash_point("key:before_commit")
        except BaseException:
            transaction.rollback()
            pending.unlink()  # nothing was committed: the old key still opens everything
            raise
        try:
            transaction.commit()
        except BaseException as exc:
            # The commit may have happened even so (a connection lost after COMMIT was
            # sent): the new key must survive, whatever the database holds now.
            raise ConfigError(
                f"the rotation's commit was not confirmed ({type(exc).__name__}): {pending} "
                f"holds the new key; if secrets no longer open, move it over "
                f"{cipher.key_file}, otherwise delete it"
            ) from exc
    crash_point("key:after_commit")
    if from_env:
        return Rotation(resealed=resealed, key_file=pending, pending=True)
    os.replace(pending, cipher.key_file)
    _sync_directory(cipher.key_file.parent)
    return Rotation(resealed=resealed, key_file=cipher.key_file, pending=False)


def _reseal(c: sa.Connection, cipher: CredsCipher, old: Any, new: Any) -> int:
    """Inside the rotation's transaction: every sealed value opened with `old`, sealed with
    `new`; the count."""
    from cryptography.fernet import InvalidToken

    if c.dialect.name == "postgresql":
        # No other writer may seal a value with the old key while this transaction
        # re-seals: it would be lost with the old key.
        names = ", ".join(table.name for table, *_ in _CELLS)
        c.execute(sa.text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))
    resealed = 0
    for table, ident, column, label, name_col in _CELLS:
        rows = c.execute(
            sa.select(table.c[ident], table.c[name_col], table.c[column]).where(
                table.c[column].startswith(SEALED)
            )
        ).all()
        for row_id, name, stored in rows:
            try:
                plain = open_with(old, stored)
            except InvalidToken:
                raise ConfigError(
                    f"the {label} {name!r} is sealed with another key than the one in "
                    f"{cipher.source}: nothing was rotated; restore the key it was "
                    f"sealed with, or store that {label} again, then rotate"
                ) from None
            c.execute(
                table.update()
                .where(table.c[ident] == row_id)
                .values({column: seal_with(new, plain)})
            )
            resealed += 1
    return resealed


def _write_pending(path: Path) -> bytes:
    from sluice.config.secrets import new_key

    raw = new_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path} exists: an earlier `sluice key rotate` was cut short. If commands fail "
            "to open secrets, that file holds the key they were sealed with: move it over the "
            "key file; otherwise delete it, then rotate again"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write the new key to {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    _sync_directory(path.parent)
    return raw


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
