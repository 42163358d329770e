"""The handles a process needs: the config database and the lake, opened from settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sluice.config.database import create_config_engine, resolve_url
from sluice.config.migrate import current_revision, head_revision
from sluice.config.repository import ConfigRepository
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
        engine = create_config_engine(url)
        revision = current_revision(engine)
        if revision != head_revision():
            engine.dispose()
            state = "is not initialised" if revision is None else f"is at revision {revision}"
            raise ConfigError(f"the config database {state}: run `sluice init` first")
        return cls(config_url=url, repo=ConfigRepository(engine))

    def lake_uri(self) -> str:
        return os.environ.get(ENV_LAKE) or self.repo.get_setting(LAKE_SETTING) or DEFAULT_LAKE

    def lake_options(self) -> LakeOptions | None:
        """Object store options saved (encrypted) by `sluice init --lake-options`."""
        sealed = self.repo.get_setting(LAKE_OPTIONS_SETTING)
        if not sealed:
            return None
        return LakeOptions.from_dict(self.repo.cipher.open(sealed, "the lake options"))

    def lake(self) -> LakeStore:
        return LakeStore(self.lake_uri(), self.lake_options())

    def close(self) -> None:
        self.repo.engine.dispose()


def normalise_lake(uri: str) -> str:
    """Local lake paths are stored absolute, so every process finds the same directory."""
    if "://" in uri and not uri.startswith("file://"):
        return uri
    return str(Path(uri.removeprefix("file://")).expanduser().resolve())
