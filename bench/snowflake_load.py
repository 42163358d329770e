"""Lake -> Snowflake (hop 2) through sluice, timed against the driver loading the same lake
files itself, both against Snowflake's stand-in (fakesnow's server, tests/snowflake_fake.py).

    .venv/bin/python bench/snowflake_load.py --rows 200000 --rows 1000000

A SQLite table of mixed types is read into a fresh local lake by hop 1, once per size; then,
one after the other, three times each (the median is reported):

    driver      snowflake-connector-python on its own: CREATE TABLE, a temporary stage, PUT
                of the lake's Parquet files, COPY INTO ... MATCH_BY_COLUMN_NAME: the least
                any loader through this server does
    sluice hop 2  `sluice table reload t --hop dl_to_sink` as its own process: check_sink, the
                load (the lake's files PUT by reference, staging table, one transaction),
                verify_sink (counts and bounds read back)

Hop 2 of a one-row table is timed too: the fixed cost (process start, imports, config
database, login, catalog queries), which the ratio at small sizes includes. The stand-in runs
DuckDB behind Snowflake's REST protocol, so the absolute figures say nothing about a real
warehouse; the ratio says what sluice adds to the same work. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests import snowflake_fake  # noqa: E402

REPEATS = 3


def _fill(path: Path, table: str, rows: int) -> None:
    random.seed(7)
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, created_at TIMESTAMP, "
            "amount NUMERIC(12,2), name TEXT, quantity INTEGER, active BOOLEAN)"
        )
        connection.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    n,
                    f"2024-01-01 00:00:{n % 60:02d}.{n % 1000000:06d}",
                    f"{(n * 37) % 10000000 / 100:.2f}",
                    f"user {n} {'x' * (n % 20)}",
                    n % 1000,
                    n % 3 == 0,
                )
                for n in range(1, rows + 1)
            ),
        )


def _sluice(workdir: Path, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sluice", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sluice {' '.join(args)} failed: {done.stderr}")
    return took


def _driver_load(creds: dict[str, Any], files: list[Path]) -> float:
    """The same files loaded by the driver alone, into a table of the same columns."""
    started = time.perf_counter()
    with snowflake_fake.connect(creds) as connection:
        cursor = connection.cursor()
        cursor.execute(
            'CREATE OR REPLACE TABLE "raw_t" ("id" NUMBER(38,0), "created_at" TIMESTAMP_NTZ(6), '
            '"amount" NUMBER(12,2), "name" VARCHAR, "quantity" NUMBER(38,0), "active" BOOLEAN)'
        )
        stage = f'"raw_{time.monotonic_ns()}"'
        cursor.execute(f"CREATE TEMPORARY STAGE {stage}")
        for number, path in enumerate(files):
            cursor.execute(f"PUT 'file://{path}' @{stage}/{number:06d} AUTO_COMPRESS = FALSE")
        cursor.execute(
            f'COPY INTO "raw_t" FROM @{stage} FILE_FORMAT = (TYPE = PARQUET) '
            "MATCH_BY_COLUMN_NAME = CASE_SENSITIVE PURGE = TRUE"
        )
    return time.perf_counter() - started


def _prepare(folder: Path, table: str, rows: int) -> tuple[Path, dict[str, Any]]:
    workdir = folder / table
    workdir.mkdir()
    _fill(workdir / "source.sqlite", table, rows)
    creds = snowflake_fake.fresh_database()
    for args in (
        ("init",),
        ("source", "add", "src", "--type", "sqlite", "--creds",
         json.dumps({"path": str(workdir / "source.sqlite")})),
        ("destination", "add", "dst", "--type", "snowflake", "--creds", json.dumps(creds)),
        ("table", "add", table, "--source", "src", "--destination", "dst",
         "--primary-key", "id"),
        ("run", table, "--hop", "source_to_dl"),
    ):  # fmt: skip
        _sluice(workdir, *args)
    return workdir, creds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    sizes = parser.parse_args().rows or [200_000, 1_000_000]
    snowflake_fake.server()
    with tempfile.TemporaryDirectory(prefix="sluice-bench-sf-") as temp:
        folder = Path(temp)
        one, _ = _prepare(folder, "one_row", 1)
        fixed = statistics.median(
            _sluice(one, "table", "reload", "one_row", "--hop", "dl_to_sink")
            for _ in range(REPEATS)
        )
        print(f"fixed cost (hop 2 of one row): {fixed:.2f} s")
        print(f"{'rows':>10} {'driver s':>9} {'sluice s':>9} {'ratio':>6}")
        for rows in sizes:
            table = f"t{rows}"
            workdir, creds = _prepare(folder, table, rows)
            files = sorted((workdir / "lake").rglob("*.parquet"))
            files = [f for f in files if "part-" in f.name]
            driver = statistics.median(_driver_load(creds, files) for _ in range(REPEATS))
            hop2 = statistics.median(
                _sluice(workdir, "table", "reload", table, "--hop", "dl_to_sink")
                for _ in range(REPEATS)
            )
            print(f"{rows:>10} {driver:>9.2f} {hop2:>9.2f} {hop2 / driver:>6.2f}")


if __name__ == "__main__":
    main()
