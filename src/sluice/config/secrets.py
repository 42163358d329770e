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
    from cryptography.fernet import Fernet

    if os.environ.get(ENV_KEY) or path.is_file():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
    except OSError as exc:
        raise ConfigError(
            f"cannot create the secret key file {path}: {exc.strerror}; fix the directory or "
            f"set {ENV_KEY} (or {ENV_KEY_FILE})"
        ) from None
    return True


class CredsCipher:
    """Seals creds JSON for storage and opens it again."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet: Any = None

    def _key(self) -> Any:
        if self._fernet is None:
            from cryptography.fernet import Fernet

            raw = os.environ.get(ENV_KEY)
            if raw is None:
                try:
                    raw = self.key_file.read_text().strip()
                except FileNotFoundError:
                    raise ConfigError(
                        f"no secret key to encrypt or decrypt credentials: run `sluice init` "
                        f"(it creates {self.key_file}), restore that file, or set {ENV_KEY}"
                    ) from None
                except OSError as exc:
                    raise ConfigError(
                        f"cannot read the secret key file {self.key_file}: {exc.strerror}; "
                        f"make it a readable file or set {ENV_KEY}"
                    ) from None
            try:
                self._fernet = Fernet(raw.encode())
            except ValueError:
                raise ConfigError(
                    f"the secret key ({ENV_KEY} or {self.key_file}) is not a valid key: it must "
                    "be 32 url-safe base64-encoded bytes, as `sluice init` writes"
                ) from None
        return self._fernet

    def seal(self, creds: dict[str, Any]) -> str:
        token: bytes = self._key().encrypt(json.dumps(creds, sort_keys=True).encode())
        return SEALED + token.decode()

    def open(self, stored: str | None, owner: str) -> dict[str, Any]:
        if not stored:
            return {}
        if not stored.startswith(SEALED):
            # Plain JSON, as a database made from the seed's description may hold.
            value: dict[str, Any] = json.loads(stored)
            return value
        from cryptography.fernet import InvalidToken

        try:
            plain = self._key().decrypt(stored.removeprefix(SEALED).encode())
        except InvalidToken:
            raise ConfigError(
                f"the creds of {owner} cannot be decrypted with this secret key: use the key "
                "they were stored with, or add the connection again"
            ) from None
        opened: dict[str, Any] = json.loads(plain)
        return opened
