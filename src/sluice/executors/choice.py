"""Which executor runs this process's stages: SLUICE_EXECUTOR=local (the default) or celery."""

from __future__ import annotations

import os

from sluice.core.errors import ConfigError
from sluice.engine.executor import Executor
from sluice.engine.services import Services
from sluice.executors.local import LocalExecutor

ENV_EXECUTOR = "SLUICE_EXECUTOR"


def _chosen() -> str:
    return os.environ.get(ENV_EXECUTOR, "").strip().lower() or "local"


def runs_elsewhere() -> bool:
    """Whether the chosen executor runs stages in other processes (a run's own process would
    only wait for them)."""
    return _chosen() == "celery"


def executor_for(services: Services) -> Executor:
    name = _chosen()
    if name == "local":
        return LocalExecutor(services)
    if name == "celery":
        from sluice.executors.celery import CeleryExecutor

        return CeleryExecutor(services)
    raise ConfigError(
        f"{ENV_EXECUTOR}={name!r} names no executor: use local (stages in this process) or "
        "celery (stages on `sluice worker` processes, SLUICE_BROKER_URL)"
    )
