"""A run executes the plan frozen when it was made, whatever happens to its template; a
dead run fails only the hop it had not finished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sluice.connectors import registry
from sluice.core.models import HopChoice, RunStatus, TriggeredBy
from sluice.engine.runner import RunEngine
from sluice.engine.services import Services
from sluice.executors.local import LocalExecutor
from tests.conftest import Sluice
from tests.integration.test_run_locks import FAST
from tests.processes import sluice_process


def test_a_run_executes_the_plan_frozen_when_it_was_made(
    configured: Sluice, services: Services
) -> None:
    repo = services.repo
    engine = RunEngine(services, LocalExecutor(services), FAST)
    template = repo.list_stages("default")
    run = engine.create("Genre", HopChoice.ALL, TriggeredBy.MANUAL)
    planned = [(stage.stage_order, stage.stage_type) for stage in repo.run_plan(run.id)]
    assert planned == [(stage.stage_order, stage.stage_type) for stage in template]
    assert run.total_stages == len(planned)

    # The template changes under the pending run: both verify stages go.
    verifying = [stage for stage in template if stage.stage_type.startswith("verify_")]
    assert len(verifying) == 2
    for stage in verifying:
        repo.remove_stage("default", stage.stage_order)

    done = engine.execute(run.id)
    assert done.status is RunStatus.SUCCESS, done.error_message
    logged = [(entry.stage_order, entry.stage_type) for entry in repo.stage_logs(run.id)]
    assert logged == planned  # the verify stages ran: they were in the plan
    # A run made now takes the template as it is now.
    later = engine.create("Genre", HopChoice.ALL, TriggeredBy.MANUAL)
    assert len(repo.run_plan(later.id)) == len(planned) - 2
    assert engine.execute(later.id).status is RunStatus.SUCCESS


def test_a_run_killed_in_hop_2_keeps_hop_1s_success(configured: Sluice, workdir: Path) -> None:
    killed = sluice_process(workdir, "run", "Genre", crash_at="load:inside_transaction")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    # The next command finds the dead run and fails it: only the hop it had not finished.
    dead = configured("runs --json --limit 1", ok=True).json()[0]
    shown = configured("table show Genre --json", ok=True).json()
    assert dead["status"] == "failed" and "was abandoned" in dead["error_message"]
    assert shown["source_to_dl"]["last_run_status"] == "success"  # its batch is committed
    assert shown["dl_to_sink"]["last_run_status"] == "failed"
    configured("run Genre --hop dl_to_sink", ok=True)


def test_a_run_reads_its_table_connections_plan_and_lake_settings_once(
    configured: Sluice,
) -> None:
    """The engine resolves the run once (engine/scope.py), not once per stage: the six stages
    of a two-hop run share it. Counted at the driver, every statement of every engine."""
    configured("run Genre", ok=True)  # the lake and sink exist: a steady-state run follows
    statements: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(Engine, "before_cursor_execute", count)
    try:
        configured("run Genre", ok=True)
    finally:
        sa.event.remove(Engine, "before_cursor_execute", count)

    def reads(table: str) -> int:
        return sum(1 for st in statements if st.startswith("SELECT") and f"FROM {table}" in st)

    assert reads("sources_config") == 1
    assert reads("destinations_config") == 1
    assert reads("sluice_run_plans") == 0  # made in this process: the plan it froze
    assert reads("sluice_settings") == 1
    # Read when the run is made (its template, its pipeline) and once more after its lock
    # was taken (what it runs on); each later change comes back from its UPDATE's RETURNING.
    assert reads("pipeline_config") == 2
    work = [st for st in statements if not st.startswith(("BEGIN", "PRAGMA"))]
    # The lake's Iceberg catalog lives in the config database too (lake/iceberg.py): each
    # stage that looks at the lake reads the table's pointer once (its snapshots are the
    # lake's index: O(1) however many batches, see test_lake_iceberg), and hop 1's publication
    # commits by one compare-and-swap UPDATE, which also holds the run's fence. Counted apart
    # from the run's own.
    catalog = [st for st in work if "iceberg_" in st]
    looks = [st for st in catalog if st.startswith("SELECT")]
    assert len(looks) <= 6, "\n".join(looks)  # six stages
    assert len(catalog) - len(looks) == 1, "\n".join(catalog)
    # 71 before the run was resolved once, 46 before starts, hop ends and stage starts
    # returned or triggered what they changed.
    own = [st for st in work if st not in catalog]
    assert len(own) <= 30, "\n".join(own)


def test_each_hop_opens_its_system_once(
    configured: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured("run Genre", ok=True)
    opened: list[str] = []
    for role in ("source", "sink"):
        real = getattr(registry, f"open_{role}")

        def counting(*args: object, real: Any = real, role: str = role) -> Any:
            opened.append(role)
            return real(*args)

        monkeypatch.setattr(registry, f"open_{role}", counting)
    configured("run Genre", ok=True)
    # check_source + extract share one source; check_sink + load + verify_sink one sink.
    assert opened == ["source", "sink"]
