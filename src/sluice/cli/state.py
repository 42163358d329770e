"""Per-invocation state: the config database URL given by --config-db or the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluice.engine.services import Services


@dataclass
class CliState:
    config_db: str | None = None
    _services: Services | None = field(default=None, repr=False)

    def services(self) -> Services:
        if self._services is None:
            from sluice.engine.services import Services

            self._services = Services.open(self.config_db)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
        self._services = None
        self.config_db = None


STATE = CliState()
