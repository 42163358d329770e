"""What every request handler reaches through: the config layer, the run engine, the launcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from sluice.api.launch import RunLauncher
from sluice.api.metrics import RunMetrics
from sluice.config.history import RunHistory
from sluice.config.stats import RunStats
from sluice.config.tokens import TokenRepository
from sluice.engine.runner import RunEngine
from sluice.engine.services import Services
from sluice.service.catalog import Catalog


@dataclass
class ApiContext:
    services: Services
    catalog: Catalog
    tokens: TokenRepository
    history: RunHistory
    stats: RunStats
    engine: RunEngine
    launcher: RunLauncher
    metrics: RunMetrics


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.sluice
    return context


Ctx = Annotated[ApiContext, Depends(get_context)]
