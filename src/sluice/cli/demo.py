"""`sluice demo`: a sample shop replicated end to end, full then incremental, then checked."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
from rich.markup import escape

from sluice.cli.output import console, table
from sluice.cli.progress import LiveRunView
from sluice.config.database import create_config_engine
from sluice.config.migrate import upgrade
from sluice.config.repository import ConfigRepository
from sluice.config.secrets import ensure_key_file, key_file_for
from sluice.connectors.base import ReadRequest
from sluice.connectors.duckdb.config import DuckDBCreds
from sluice.connectors.duckdb.sink import DuckDBSink
from sluice.connectors.sqlite.config import SQLiteCreds
from sluice.connectors.sqlite.source import SQLiteSource
from sluice.core.errors import ConfigError, RunFailedError
from sluice.core.models import HopChoice, RunStatus, TableRef, TriggeredBy
from sluice.engine.runner import RunEngine
from sluice.engine.services import LAKE_SETTING, Services
from sluice.executors.local import LocalExecutor
from sluice.service.catalog import Catalog, TableChanges

MARKER = ".sluice-demo"
# (table, primary key, hop-1 key, loaded incrementally after the first full pass)
TABLES = (
    ("customers", "customer_id", "updated_at", True),
    ("products", "product_id", None, False),
    ("orders", "order_id", "updated_at", True),
    ("order_items", "order_item_id", "updated_at", True),
)


def _fresh_directory(directory: Path) -> Path:
    if directory.exists():
        if not (directory / MARKER).exists() and any(directory.iterdir()):
            raise ConfigError(
                f"{directory} exists and was not made by `sluice demo`: pick another --dir"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by sluice demo; replaced on every run\n")
    return directory.resolve()


def run_demo(directory: Path, order_items: int) -> None:
    from sluice.demo.shop import ShopSize, build_shop, change_shop

    started = time.perf_counter()
    root = _fresh_directory(directory)
    shop, warehouse = root / "shop.db", root / "warehouse.duckdb"
    size = ShopSize(
        customers=max(order_items // 12, 100),
        products=max(order_items // 120, 20),
        orders=max(order_items // 3, 100),
        order_items=order_items,
    )
    counts = build_shop(shop, size)
    console.print(
        f"[bold]1.[/] built the source {shop}: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )

    url = f"sqlite:///{root / 'config.db'}"
    engine = create_config_engine(url)
    upgrade(engine)
    ensure_key_file(key_file_for(url))
    ConfigRepository(engine).set_setting(LAKE_SETTING, str(root / "lake"))
    engine.dispose()
    services = Services.open(url)
    try:
        catalog = Catalog(services.repo)
        catalog.add_source("shop", "sqlite", json.dumps({"path": str(shop)}))
        catalog.add_destination("warehouse", "duckdb", json.dumps({"path": str(warehouse)}))
        for name, pk, key, _ in TABLES:
            catalog.add_table(
                name,
                TableChanges(
                    source="shop",
                    destination="warehouse",
                    load="full",
                    key=key,
                    sink_load="full",
                    primary_key=[pk],
                ),
            )
        console.print(
            f"[bold]2.[/] configured {len(TABLES)} tables: "
            "shop (SQLite) -> lake -> warehouse (DuckDB)"
        )
        run_ids = _run_all(services, "full load, both hops")

        for name, _, _, incremental in TABLES:
            if incremental:
                catalog.edit_table(name, TableChanges(load="incremental", sink_load="incremental"))
        change = change_shop(shop)
        console.print(
            "[bold]4.[/] changed the source: inserted "
            + ", ".join(f"{k} {v}" for k, v in change.inserted.items())
            + "; updated "
            + ", ".join(f"{k} {v}" for k, v in change.updated.items())
            + "; rows at the last watermark "
            + ", ".join(f"{k} {v}" for k, v in change.at_watermark.items())
        )
        run_ids += _run_all(services, "incremental, both hops")
        ok = _summary(services, run_ids, shop, warehouse)
    finally:
        services.close()
    seconds = time.perf_counter() - started
    if not ok:
        raise RunFailedError("the sink does not match the source: see the summary above")
    console.print(
        f"[bold green]demo complete[/] in {seconds:.1f}s: sink equals source for every table"
    )


def _run_all(services: Services, label: str) -> list[int]:
    step = "3" if label.startswith("full") else "5"
    console.print(f"[bold]{step}.[/] running every table ({label})")
    engine = RunEngine(services, LocalExecutor(services))
    ids = []
    for name, *_ in TABLES:
        run = engine.create(name, HopChoice.ALL, TriggeredBy.MANUAL)
        console.print(f"  run {run.id}: {escape(name)}")
        with LiveRunView(console) as view:
            finished = engine.execute(run.id, view)
        if finished.status is not RunStatus.SUCCESS:
            raise RunFailedError(f"run {run.id} ({name}) failed: {finished.error_message}")
        ids.append(run.id)
    return ids


def _summary(services: Services, run_ids: list[int], shop: Path, warehouse: Path) -> bool:
    repo = services.repo
    rows = []
    for run_id in run_ids:
        run = repo.get_run(run_id)
        logs = {log.stage_type: log for log in repo.stage_logs(run_id)}
        rows.append(
            [run.id, run.source_tablename, run.status.value]
            + [
                logs[t].rows_processed if t in logs else "-"
                for t in ("check_source", "extract", "verify_lake", "load", "verify_sink")
            ]
        )
    table(
        "runs (rows per stage)",
        ["run", "table", "status", "source", "extract", "verify_lake", "load", "sink rows"],
        rows,
    )

    lake = services.lake()
    from sluice.lake.reader import LakeTable

    batches = []
    for name, *_ in TABLES:
        for m in LakeTable(lake, "shop", name).committed():
            batches.append(
                [
                    name,
                    m.sequence,
                    m.load_type,
                    f"{m.row_count:,}",
                    m.key_min or "-",
                    m.key_max or "-",
                    m.run_id,
                ]
            )
    table("lake batches", ["table", "batch", "type", "rows", "key min", "key max", "run"], batches)

    source = SQLiteSource(SQLiteCreds(path=str(shop)))
    sink = DuckDBSink(DuckDBCreds(path=str(warehouse)))
    checks, ok = [], True
    try:
        for name, pk, *_ in TABLES:
            expected = _sorted(
                pa.Table.from_batches(list(source.read(ReadRequest(TableRef(name))))), pk
            )
            loaded = sink.arrow(TableRef(name))
            loaded = _sorted(loaded.select(expected.schema.names).cast(expected.schema), pk)
            same = expected.equals(loaded)
            ok &= same
            checks.append(
                [name, f"{expected.num_rows:,}", f"{loaded.num_rows:,}", "yes" if same else "NO"]
            )
    finally:
        sink.close()
    table("source vs sink", ["table", "source rows", "sink rows", "identical"], checks)
    return ok


def _sorted(data: pa.Table, key: str) -> pa.Table:
    return data.sort_by([(key, "ascending")])
