"""What a stage gets to work with, and what it reports back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from sluice.config.records import ConnectionRecord, RunRecord, StageRecord, TableConfig
from sluice.config.repository import DESTINATIONS, SOURCES, ConfigRepository
from sluice.connectors import registry
from sluice.connectors.base import Sink, Source
from sluice.core.errors import ConfigError, FencedOffError
from sluice.core.models import TableRef
from sluice.lake.reader import LakeTable
from sluice.lake.store import LakeStore

if TYPE_CHECKING:
    from sluice.stages.partitioned_extract import FanOut


@dataclass
class StageResult:
    rows: int = 0
    file_paths: list[str] = field(default_factory=list)
    # What the stage applied that the user should know of (a schema change under the table's
    # contract); logged with the stage and shown by `runs show` and `status`.
    warnings: list[str] = field(default_factory=list)


class SharedConnections:
    """A hop's source and sink, opened once and kept across its stages in one process.

    A stage closes what it opened as before; the kept object ignores that, and the engine
    closes it when the hop ends, when a stage fails (a retry opens afresh) and when the run
    ends. Stages in another process open their own.
    """

    def __init__(self) -> None:
        self._source: Source | None = None
        self._sink: Sink | None = None

    def source(self, open_source: Callable[[], Source]) -> Source:
        if self._source is None:
            self._source = open_source()
        return cast(Source, _Kept(self._source))

    def sink(self, open_sink: Callable[[], Sink]) -> Sink:
        if self._sink is None:
            self._sink = open_sink()
        return cast(Sink, _Kept(self._sink))

    def close(self) -> None:
        kept, self._source, self._sink = (self._source, self._sink), None, None
        for connection in kept:
            if connection is not None:
                connection.close()


class _Kept:
    """A kept connection as a stage sees it: everything but close()."""

    def __init__(self, connection: Source | Sink) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def close(self) -> None:
        """Kept for the hop's next stage: SharedConnections.close() ends it."""


@dataclass
class StageContext:
    """Everything a stage needs, rebuilt from the config database for each stage.

    Stages pass nothing to each other in memory: what one stage leaves for the next is in the
    lake (manifests carry the run id), the sink (its state table) or the config database, so a
    stage may run in another process or on another machine.
    """

    repo: ConfigRepository
    lake: LakeStore
    run: RunRecord
    stage: StageRecord
    table: TableConfig
    plan: tuple[StageRecord, ...] = ()  # the run's stages, as frozen when it was made
    progress: Callable[[int], None] = lambda rows: None
    # The connections as the run resolved them once (None: looked up when needed).
    source_record: ConnectionRecord | None = None
    destination_record: ConnectionRecord | None = None
    # The hop's connections, kept across its stages (None: each stage opens its own).
    connections: SharedConnections | None = None
    # Where the ranges of a partitioned read go (None: threads of this process).
    fan_out: FanOut | None = None

    def fence(self) -> None:
        """Refuse to go on once the run lost its lock: called just before a change becomes
        visible (a lake batch published, a sink load committed), so a stage that outlived its
        reaped run cannot publish behind the run that replaced it. Config changes are fenced
        inside their own statements (`fenced_by`)."""
        if not self.repo.holds_lock(self.run.id):
            raise FencedOffError(
                f"run {self.run.id} no longer holds table {self.table.source_tablename!r} (it "
                "was reaped as abandoned): nothing it wrote was published"
            )

    def source_connection(self) -> ConnectionRecord:
        if not self.table.source_name:
            raise ConfigError(
                f"table {self.table.source_tablename!r} has no source connection: "
                f"set one with `sluice table edit {self.table.source_tablename} --source NAME`"
            )
        if self.source_record is not None:
            return self.source_record
        return self.repo.get_connection(SOURCES, self.table.source_name)

    def destination_connection(self) -> ConnectionRecord:
        if not self.table.destination_name:
            raise ConfigError(
                f"table {self.table.source_tablename!r} has no destination connection: set one "
                f"with `sluice table edit {self.table.source_tablename} --destination NAME`"
            )
        if self.destination_record is not None:
            return self.destination_record
        return self.repo.get_connection(DESTINATIONS, self.table.destination_name)

    def open_source(self) -> Source:
        record = self.source_connection()
        if self.connections is not None:
            return self.connections.source(lambda: registry.open_source(record.type, record.creds))
        return registry.open_source(record.type, record.creds)

    def open_sink(self) -> Sink:
        record = self.destination_connection()
        if self.connections is not None:
            return self.connections.sink(lambda: registry.open_sink(record.type, record.creds))
        return registry.open_sink(record.type, record.creds)

    def secrets(self) -> list[str]:
        """Secret values of the connections in play, so errors can be scrubbed of them."""
        found: list[str] = []
        for getter, role in (
            (self.source_connection, "source"),
            (self.destination_connection, "destination"),
        ):
            try:
                record = getter()
                found += registry.validate_creds(
                    record.type, record.creds, role=role
                ).secret_values()
            except ConfigError:
                continue
        return found

    @property
    def source_ref(self) -> TableRef:
        return TableRef.parse(self.table.source_tablename)

    @property
    def sink_ref(self) -> TableRef:
        return TableRef.parse(self.table.sink_tablename)

    @cached_property
    def lake_table(self) -> LakeTable:
        """The table's lake, one per stage: what the stage reads of it is read once."""
        return LakeTable(self.lake, self.table.source_name or "_", self.table.source_tablename)
