"""A run's plan: the stages it executes, chosen from its template when the run is made."""

from __future__ import annotations

from sluice.config.records import RunRecord, StageRecord, TableConfig
from sluice.config.repository import ConfigRepository
from sluice.core.errors import ConfigError
from sluice.core.models import HopChoice
from sluice.stages.registry import get_stage_type


def stages_for(
    repo: ConfigRepository, table: TableConfig, hop: HopChoice, pipeline: str
) -> list[StageRecord]:
    template = repo.list_stages(pipeline)
    if not template:
        raise ConfigError(f"pipeline {pipeline!r} has no stages: see `sluice stages list`")
    wanted = set(hop.hops())
    chosen = [st for st in template if get_stage_type(st.stage_type).hop in wanted]
    if not chosen:
        raise ConfigError(
            f"pipeline {pipeline!r} has no stages for hop {hop.value} of table "
            f"{table.source_tablename!r}"
        )
    return chosen


def planned_stages(repo: ConfigRepository, run: RunRecord, table: TableConfig) -> list[StageRecord]:
    """The run's frozen plan; a run made before plans were kept is read from its template."""
    return repo.run_plan(run.id) or stages_for(repo, table, HopChoice(run.hop), run.pipeline_name)
