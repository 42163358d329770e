"""Engine settings, from the environment, with defaults fit for a small machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from sluice.core.errors import ConfigError


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class EngineSettings:
    heartbeat_interval: float  # seconds between heartbeats of a running run
    heartbeat_timeout: timedelta  # silence after which a run counts as dead
    max_attempts: int  # tries of a stage that fails with a transient error
    retry_base: float  # first retry delay in seconds; doubles per attempt, with jitter
    retry_cap: float

    @classmethod
    def from_env(cls) -> EngineSettings:
        return cls(
            heartbeat_interval=_number("SLUICE_HEARTBEAT_INTERVAL", 5.0),
            heartbeat_timeout=timedelta(seconds=_number("SLUICE_HEARTBEAT_TIMEOUT", 120.0)),
            max_attempts=max(1, int(_number("SLUICE_MAX_ATTEMPTS", 3))),
            retry_base=_number("SLUICE_RETRY_BASE", 2.0),
            retry_cap=_number("SLUICE_RETRY_CAP", 60.0),
        )
