"""What a run works on, resolved once: the run, its table, its plan, its connections, the lake.

The engine resolves it when a run starts and hands it to an in-process executor with each
stage, so six stages do not read the same rows six times. An executor in another process
resolves its own from the config database (`resolve`): the scope is never sent anywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sluice.config.records import ConnectionRecord, RunRecord, StageRecord, TableConfig
from sluice.config.repository import DESTINATIONS, SOURCES, ConfigRepository, ConnectionKind
from sluice.core.errors import SluiceError
from sluice.engine.plan import planned_stages
from sluice.engine.services import Services
from sluice.lake.store import LakeStore
from sluice.stages.context import SharedConnections


@dataclass
class RunScope:
    run: RunRecord
    table: TableConfig
    plan: tuple[StageRecord, ...]
    # None where the lookup failed: the stage that needs it looks again and fails with why.
    source: ConnectionRecord | None
    destination: ConnectionRecord | None
    services: Services
    # The hop's source and sink, kept across its stages; the engine closes them.
    connections: SharedConnections = field(default_factory=SharedConnections, repr=False)
    _lake: LakeStore | None = field(default=None, repr=False)
    _lake_settings: dict[str, str] | None = field(default=None, repr=False)

    def lake_settings(self) -> dict[str, str]:
        if self._lake_settings is None:
            self._lake_settings = self.services.lake_settings()
        return self._lake_settings

    def lake(self) -> LakeStore:
        """The lake, opened on first use (a bad lake setting fails the stage that needs it)."""
        if self._lake is None:
            self._lake = self.services.lake(self.lake_settings())
        return self._lake

    def refreshed(self, repo: ConfigRepository) -> RunScope:
        """The same scope with the table row read again (a later hop, or a retried stage,
        sees what the stages before it wrote)."""
        return dataclasses.replace(self, table=repo.get_table(self.table.source_tablename))


def resolve(
    services: Services,
    run_id: int,
    run: RunRecord | None = None,
    plan: tuple[StageRecord, ...] | None = None,
) -> RunScope:
    """`plan`: the run's frozen plan where the caller made the run (and so holds it)."""
    repo = services.repo
    run = run or repo.get_run(run_id)
    table = repo.get_table(run.source_tablename)
    return RunScope(
        run=run,
        table=table,
        plan=plan or tuple(planned_stages(repo, run, table)),
        source=_connection(repo, SOURCES, table.source_name),
        destination=_connection(repo, DESTINATIONS, table.destination_name),
        services=services,
    )


def _connection(
    repo: ConfigRepository, kind: ConnectionKind, name: str | None
) -> ConnectionRecord | None:
    if not name:
        return None
    try:
        return repo.get_connection(kind, name)
    except SluiceError:
        return None
