"""The handles a process needs: the config database and the lake, opened from settings."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sluice.config.database import (
    create_config_engine,
    resolve_url,
    sqlite_file_empty,
    sqlite_file_missing,
)
from sluice.config.dberrors import empty_file_error
from sluice.config.repository import ConfigRepository
from sluice.config.revision import HEAD_REVISION, current_revision
from sluice.connectors.envrefs import is_env_ref, resolve_env_refs
from sluice.core.errors import ConfigError
from sluice.lake.store import LakeOptions, LakeStore

ENV_LAKE = "SLUICE_LAKE"
LAKE_SETTING = "lake_uri"
LAKE_OPTIONS_SETTING = "lake_options"
DEFAULT_LAKE = "lake"


@dataclass
class Services:
    config_url: str
    repo: ConfigRepository

    @classmethod
    def open(cls, config_db: str | None) -> Services:
        url = resolve_url(config_db)
        missing = sqlite_file_missing(url)
        if missing is not None:
            # Opening it would create an empty file (and its directory) that is not a config
            # database: say so and leave the folder as it was.
            raise ConfigError(
                f"the config database {missing} does not exist: run `sluice init` first, or "
                "point --config-db / SLUICE_CONFIG_DB at yours"
            )
        empty = sqlite_file_empty(url)
        if empty is not None:
            raise empty_file_error(empty)  # it would read as a database never initialised
        engine = create_config_engine(url)
        revision = current_revision(engine)
        if revision != HEAD_REVISION:
            engine.dispose()
            state = "is not initialised" if revision is None else f"is at revision {revision}"
            raise ConfigError(f"the config database {state}: run `sluice init` first")
        return cls(config_url=url, repo=ConfigRepository(engine))

    def lake_settings(self) -> dict[str, str]:
        """The lake's stored settings (its URI and sealed options), in one read: hand them to
        the methods below to resolve the lake more than once without reading again."""
        return self.repo.get_settings((LAKE_SETTING, LAKE_OPTIONS_SETTING))

    def lake_uri(self, settings: dict[str, str] | None = None) -> str:
        stored = (
            self.repo.get_setting(LAKE_SETTING) if settings is None else settings.get(LAKE_SETTING)
        )
        return os.environ.get(ENV_LAKE) or stored or DEFAULT_LAKE

    def stored_lake_options(self, settings: dict[str, str] | None = None) -> dict[str, Any]:
        """The options as stored: secrets in clear, env references unresolved. Never print."""
        if settings is None:
            return stored_lake_options(self.repo)
        sealed = settings.get(LAKE_OPTIONS_SETTING)
        return self.repo.cipher.open(sealed, "the lake options") if sealed else {}

    def lake_options(self, settings: dict[str, str] | None = None) -> LakeOptions | None:
        """Object store options saved (encrypted) by `sluice init --lake-options`."""
        stored = self.stored_lake_options(settings)
        if not stored:
            return None
        return LakeOptions.from_dict(resolve_env_refs(stored, "lake options"))

    def lake(self, settings: dict[str, str] | None = None) -> LakeStore:
        settings = self.lake_settings() if settings is None else settings
        uri = self.lake_uri(settings)
        # The options are S3's: a local lake must not need their key or env variables.
        options = self.lake_options(settings) if uri.startswith("s3://") else None
        return LakeStore(uri, options, catalog=self.repo.engine)

    def close(self) -> None:
        self.repo.engine.dispose()


def normalise_lake(uri: str) -> str:
    """Local lake paths are stored absolute, so every process finds the same directory."""
    if "://" in uri and not uri.startswith("file://"):
        return uri
    return str(Path(uri.removeprefix("file://")).expanduser().resolve())


LAKE_OPTION_NAMES = tuple(f.name for f in fields(LakeOptions))
LAKE_OPTION_SECRETS = ("secret_access_key", "session_token")
LAKE_OPTIONS_EXAMPLE = (
    '{"endpoint_url": "https://s3.example.com", "region": "eu-west-1", '
    '"access_key_id": "AKIA...", "secret_access_key": {"env": "LAKE_SECRET"}}'
)


def parse_lake_options(raw: str) -> dict[str, Any]:
    """Check `--lake-options` JSON without ever echoing its text (it may hold a secret).

    Each option is a string or {"env": "NAME"}, read from the environment when the lake opens.
    An empty object means: no options, the AWS chain alone.
    """
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--lake-options is not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}): pass an object such as '{LAKE_OPTIONS_EXAMPLE}', or @FILE"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"--lake-options nest too deeply to read: pass a flat object such as "
            f"'{LAKE_OPTIONS_EXAMPLE}'"
        ) from None
    if not isinstance(values, dict):
        raise ConfigError(f"--lake-options must be a JSON object, not {type(values).__name__}")
    unknown = sorted(set(values) - set(LAKE_OPTION_NAMES))
    if unknown:
        raise ConfigError(
            f"unknown lake option(s) {', '.join(repr(u)[:60] for u in unknown)}: use "
            + ", ".join(LAKE_OPTION_NAMES)
        )
    for name, value in values.items():
        if not (isinstance(value, str) and value.strip()) and not is_env_ref(value):
            raise ConfigError(
                f'lake option {name!r} must be a non-empty string or {{"env": "NAME"}}, not '
                f"{type(value).__name__}"
            )
    if ("access_key_id" in values) != ("secret_access_key" in values):
        raise ConfigError(
            "lake options access_key_id and secret_access_key go together: give both, or "
            "neither to use the AWS chain's credentials"
        )
    return dict(values)


def redacted_lake_options(values: dict[str, Any]) -> dict[str, Any]:
    """Lake options for display: secret values masked, env references shown (names only)."""
    return {
        name: "***" if name in LAKE_OPTION_SECRETS and not is_env_ref(value) else value
        for name, value in values.items()
    }


def stored_lake_options(repo: ConfigRepository) -> dict[str, Any]:
    sealed = repo.get_setting(LAKE_OPTIONS_SETTING)
    return repo.cipher.open(sealed, "the lake options") if sealed else {}


def store_lake_options(repo: ConfigRepository, values: dict[str, Any]) -> None:
    """Seal the options into the settings table, as connection creds are; {} removes them."""
    if values:
        repo.set_setting(LAKE_OPTIONS_SETTING, repo.cipher.seal(values))
    else:
        repo.delete_setting(LAKE_OPTIONS_SETTING)
