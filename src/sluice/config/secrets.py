"""Credentials at rest: sealed with a Fernet key, or kept out entirely by env references.

The key comes from SLUICE_SECRET_KEY, or from a key file (SLUICE_SECRET_KEY_FILE; by default
`secret.key` beside a SQLite config database, `.sluice/secret.key` otherwise) that `sluice init`
creates with mode 0600. Env references ({"env": "NAME"}, connectors/envrefs.py) keep a secret
out of the database altogether.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from sluice.core.errors import ConfigError

ENV_KEY = "SLUICE_SECRET_KEY"
ENV_KEY_FILE = "SLUICE_SECRET_KEY_FILE"
SEALED = "fernet:v1:"


def key_file_for(config_url: str) -> Path:
    if configured := os.environ.get(ENV_KEY_FILE):
        return Path(configured).expanduser()
    url = make_url(config_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().parent / "secret.key"
    return Path(".sluice") / "secret.key"


def ensure_key_file(path: Path) -> bool:
    """Create a new random key file readable by its owner only; False if one exists."""
    if os.environ.get(ENV_KEY) or path.is_file():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new_key())
    except OSError as exc:
        raise ConfigError(
            f"cannot create the secret key file {path}: {exc.strerror}; fix the directory or "
            f"set {ENV_KEY} (or {ENV_KEY_FILE})"
        ) from None
    return True


def pending_key_file(key_file: Path) -> Path:
    """Where `sluice key rotate` writes the new key until the old one is replaced."""
    return key_file.with_name(key_file.name + ".new")


def new_key() -> bytes:
    from cryptography.fernet import Fernet

    key: bytes = Fernet.generate_key()
    return key


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file other users may read: anyone who can read it can open every secret."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"the secret key file {path} may be read by other users (mode {mode:04o}): "
            f"run `chmod 600 {path}`, so that only its owner can read it"
        )


class CredsCipher:
    """Seals creds JSON for storage and opens it again."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet: tuple[str, Any] | None = None

    @property
    def source(self) -> str:
        """Where the key comes from, for messages."""
        return ENV_KEY if os.environ.get(ENV_KEY) else str(self.key_file)

    def _key(self) -> Any:
        # Read each time, not once per process: after `sluice key rotate` a long-running
        # server or scheduler must open and seal with the new key, never the replaced one.
        raw = self.raw_key()
        if self._fernet is None or self._fernet[0] != raw:
            self._fernet = (raw, self.fernet(raw))
        return self._fernet[1]

    def raw_key(self) -> str:
        """The key's text, from SLUICE_SECRET_KEY or the key file (checked to be private)."""
        raw = os.environ.get(ENV_KEY)
        if raw is not None:
            return raw
        try:
            raw = self.key_file.read_text().strip()
        except FileNotFoundError:
            raise ConfigError(
                f"no secret key: {self.key_file} is missing. If credentials were stored "
                f"before, restore that file from a backup (or set {ENV_KEY} to that key): a "
                "new key cannot open them; on a new installation `sluice init` creates one"
                + self._rotation_hint()
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read the secret key file {self.key_file}: {exc.strerror}; "
                f"make it a readable file or set {ENV_KEY}"
            ) from None
        check_key_file_mode(self.key_file)
        return raw

    def fernet(self, raw: str) -> Any:
        from cryptography.fernet import Fernet

        try:
            return Fernet(raw.encode())
        except ValueError:
            raise ConfigError(
                f"the secret key ({self.source}) is not a valid key: it must be 32 url-safe "
                "base64-encoded bytes, as `sluice init` writes; restore the right key"
            ) from None

    def _rotation_hint(self) -> str:
        pending = pending_key_file(self.key_file)
        if os.environ.get(ENV_KEY) or not pending.exists():
            return ""
        return (
            f"; {pending} exists: a `sluice key rotate` was cut short after it sealed the "
            f"secrets with that key, so move it to {self.key_file}"
        )

    def seal(self, creds: dict[str, Any]) -> str:
        return seal_with(self._key(), creds)

    def open(
        self, stored: str | None, owner: str, again: str = "store them again"
    ) -> dict[str, Any]:
        """The creds in `stored`; `again` says how to re-enter them when no key opens them."""
        if not stored:
            return {}
        if not stored.startswith(SEALED):
            # Plain JSON, as a database made from the seed's description may hold.
            value: dict[str, Any] = json.loads(stored)
            return value
        from cryptography.fernet import InvalidToken

        try:
            return open_with(self._key(), stored)
        except InvalidToken:
            raise ConfigError(
                f"the creds of {owner} cannot be decrypted with the secret key in "
                f"{self.source}: restore the key they were sealed with (from a backup of "
                f"{self.key_file}, or {ENV_KEY}), or {again}" + self._rotation_hint()
            ) from None


def seal_with(fernet: Any, creds: dict[str, Any]) -> str:
    token: bytes = fernet.encrypt(json.dumps(creds, sort_keys=True).encode())
    return SEALED + token.decode()


def open_with(fernet: Any, stored: str) -> dict[str, Any]:
    """Open a sealed value (raises cryptography's InvalidToken for another key's seal)."""
    opened: dict[str, Any] = json.loads(fernet.decrypt(stored.removeprefix(SEALED).encode()))
    return opened
