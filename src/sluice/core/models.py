"""Plain data that every layer shares: hops, load types, run states and table references."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Hop(StrEnum):
    SOURCE_TO_DL = "source_to_dl"
    DL_TO_SINK = "dl_to_sink"


class HopChoice(StrEnum):
    """What a run covers: one hop, or both in order."""

    SOURCE_TO_DL = "source_to_dl"
    DL_TO_SINK = "dl_to_sink"
    ALL = "all"

    def hops(self) -> tuple[Hop, ...]:
        if self is HopChoice.ALL:
            return (Hop.SOURCE_TO_DL, Hop.DL_TO_SINK)
        return (Hop(self.value),)


class LoadType(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class TriggeredBy(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    API = "api"


class LoadMode(StrEnum):
    """How a sink applies what it is given.

    REPLACE builds the table beside the live one and swaps it in; MERGE upserts on the primary
    key; APPEND inserts.
    """

    REPLACE = "replace"
    MERGE = "merge"
    APPEND = "append"


@dataclass(frozen=True)
class TableRef:
    """A table in a source or sink system; `schema` is None where the system has no schemas."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, dotted: str) -> TableRef:
        schema, sep, name = dotted.rpartition(".")
        return cls(name=name, schema=schema) if sep else cls(name=dotted)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name
