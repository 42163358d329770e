"""MariaDB -> lake (hop 1) through sluice, timed against the mariadb client dumping the table.

    .venv/bin/python bench/mysql_extract.py --rows 1000000 --rows 2000000

Against the local server (127.0.0.1:3306, root, no password) it creates a database and a
mixed-type table, fills it server-side from the sequence engine (seq_1_to_N), and for each
size times, one after the other:

    client      mariadb --quick --batch -e 'SELECT * FROM t' > /dev/null (rows streamed,
                printed as text, thrown away: the client's own reading speed)
    sluice hop 1  `sluice run t --hop source_to_dl` (full, so the count is taken inside the
                read's snapshot) into a fresh local lake, as its own process

Each runs as a subprocess whose wall time and peak RSS are measured by wait4, three times
(the median is reported: a 2-CPU machine shared with the server is noisy); hop 1 is reported
as a ratio to the client. Hop 1 of a one-row table is timed too: the CLI's fixed cost (start,
imports, config database, run bookkeeping), which the ratio at small sizes includes; and the
server counting the table (`SELECT COUNT(*)`), which a full hop 1 has it do inside the
read's snapshot before the rows are sent, and the client's dump does not. The
sizes are filled in increasing order into the same table (the rows of the smaller size
stay). `--partitions N` reads the table in N primary key ranges in parallel, as the table's
setting would. Targets: hop 1 at most 1.5x the client, peak RSS
under 400 MB and flat from the smallest size to the largest. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

HOST, PORT, USER = "127.0.0.1", 3306, "root"
TABLE = "bench_rows"
ONE_ROW = "bench_one_row"
PROJECT = Path(__file__).resolve().parent.parent
RSS_LIMIT_MB = 400
RATIO_LIMIT = 1.5
REPEATS = 3

COLUMNS = """
    id          bigint PRIMARY KEY,
    created_at  datetime(6) NOT NULL,
    updated_at  timestamp(6) NOT NULL,
    quantity    int NOT NULL,
    code        varchar(16) NOT NULL,
    email       varchar(64) NOT NULL,
    amount      decimal(12,2) NOT NULL,
    score       int,
    active      tinyint(1) NOT NULL,
    note        varchar(32),
    attrs       json
"""
# Server-side generation: one INSERT ... SELECT from the sequence engine, no round trips.
FILL = """
INSERT INTO {table}
SELECT seq,
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq SECOND,
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq SECOND
           + INTERVAL (seq % 86400) * 1000 MICROSECOND,
       seq % 1000,
       CONCAT('c', seq % 10000),
       CONCAT('user', seq, '@example', seq % 97, '.com'),
       (seq * 37) % 10000000 / 100.0,
       IF(seq % 11 = 0, NULL, seq * 7 % 100000),
       seq % 3 = 0,
       IF(seq % 5 = 0, NULL, CONCAT('note ', seq % 1000)),
       IF(seq % 13 = 0, NULL, JSON_OBJECT('k', seq % 100, 'tag', CONCAT('t', seq % 7),
                                          'ok', seq % 2 = 0))
FROM seq_{low}_to_{high}
"""


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    rows: int
    peak_rss_mb: float
    stages: tuple[tuple[str, float], ...] = ()


def connect(database: str | None = None) -> Any:
    return pymysql.connect(
        host=HOST, port=PORT, user=USER, database=database, autocommit=True, charset="utf8mb4"
    )


def execute(database: str | None, sql: str) -> None:
    connection = connect(database)
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def fill(database: str, low: int, high: int) -> float:
    started = time.perf_counter()
    execute(database, FILL.format(table=TABLE, low=low, high=high))
    execute(database, f"ANALYZE TABLE {TABLE}")
    return time.perf_counter() - started


def measured(name: str, argv: list[str], rows: int, env: dict[str, str] | None = None) -> Step:
    """Run `argv`, its output thrown away or kept for the stages: wall time and peak RSS."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{output[-4000:]}")
    stages: tuple[tuple[str, float], ...] = ()
    if "{" in output and name.startswith("sluice"):
        report = json.loads(output[output.index("{") :])
        stages = tuple(
            (str(stage["stage_type"]), float(stage["time_taken"] or 0))
            for stage in report.get("stages", [])
        )
    # ru_maxrss is in KiB on Linux.
    return Step(name, seconds, rows, usage.ru_maxrss / 1024, stages)


def median(measure: Callable[[], Step]) -> Step:
    steps = sorted((measure() for _ in range(REPEATS)), key=lambda step: step.seconds)
    return steps[len(steps) // 2]


def client(database: str, rows: int, sql: str = f"SELECT * FROM {TABLE}") -> Step:
    argv = [
        "sh",
        "-c",
        f"mariadb --quick --batch -h {HOST} -P {PORT} -u {USER} {database} -e '{sql}' > /dev/null",
    ]
    return measured("mariadb client", argv, rows)


# What a hop 1 process imports that is not sluice's own code.
LIBRARIES = (
    "import pyarrow, pyarrow.compute, pyarrow.fs, pyarrow.parquet, sqlalchemy, sqlalchemy.orm, "
    "connectorx, pymysql, typer, rich.console, pyiceberg.catalog.sql, pyiceberg.table, "
    "pyiceberg.io.pyarrow"
)


def libraries() -> Step:
    """A process importing only the libraries hop 1 uses: what no hop 1 process can go below."""
    return measured("its libraries", [sys.executable, "-c", LIBRARIES], 1)


def count(database: str, rows: int) -> Step:
    """The server counting the table, as a full hop 1 has it do inside the read's snapshot
    (before the rows are sent): server time the client's dump does not spend."""
    step = client(database, rows, f"SELECT COUNT(*) FROM {TABLE}")
    return dataclasses.replace(step, name="server count")


class Sluice:
    """The product's CLI (this checkout's code) in a scratch config database and lake."""

    def __init__(self, workdir: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT / "src"),
            "SLUICE_CONFIG_DB": str(workdir / "config.db"),
            "SLUICE_LAKE": str(workdir / "lake"),
        }
        self.argv = [sys.executable, "-m", "sluice"]

    def command(self, *args: str) -> None:
        done = subprocess.run([*self.argv, *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"sluice {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def configure(self, database: str, workdir: Path, partitions: int) -> None:
        self.command("init", "--lake", self.env["SLUICE_LAKE"])
        creds = {"host": HOST, "port": PORT, "user": USER, "database": database}
        self.command("source", "add", "bench_src", "--type", "mysql", "--creds", json.dumps(creds))
        sink = {"path": str(workdir / "unused.duckdb")}
        self.command(
            "destination", "add", "bench_dst", "--type", "duckdb", "--creds", json.dumps(sink)
        )
        self.command(
            "table", "add", TABLE, "--source", "bench_src", "--destination", "bench_dst",
            "--load", "full", "--primary-key", "id", "--partitions", str(partitions),
        )  # fmt: skip
        self.command(
            "table", "add", ONE_ROW, "--source", "bench_src", "--destination", "bench_dst",
            "--load", "full", "--primary-key", "id",
        )  # fmt: skip

    def hop1(self, rows: int, table: str = TABLE) -> Step:
        argv = [*self.argv, "run", table, "--hop", "source_to_dl", "--json"]
        return measured("sluice hop 1", argv, rows, self.env)


def print_report(
    results: list[tuple[Step, Step, Step]], fixed: Step, floor: Step, partitions: int
) -> None:
    split = f", {partitions} partitions" if partitions > 1 else ""
    print(f"\nsluice MariaDB extract (hop 1){split}, {os.cpu_count()} CPUs, median of {REPEATS}\n")
    header = (
        f"{'rows':>10} {'step':<16} {'seconds':>8} {'rows/s':>11} {'ratio':>7} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for raw, counted, hop in results:
        for step in (raw, counted, hop):
            ratio = f"{step.seconds / raw.seconds:.2f}x" if step is not raw else ""
            print(
                f"{step.rows:>10,} {step.name:<16} {step.seconds:>8.2f} "
                f"{step.rows / step.seconds:>11,.0f} {ratio:>7} {step.peak_rss_mb:>12.0f}"
            )
        print("  stages: " + ", ".join(f"{name} {sec:.2f}s" for name, sec in hop.stages))
        rest = hop.seconds - fixed.seconds - counted.seconds
        print(
            f"  hop 1 = fixed cost {fixed.seconds:.2f}s + server count {counted.seconds:.2f}s "
            f"+ the rest (reading, converting, writing) {rest:.2f}s = "
            f"{rest / raw.seconds:.2f}x the client"
        )
        least = floor.seconds + counted.seconds + raw.seconds
        print(
            f"  no hop 1 can take less than its libraries' imports {floor.seconds:.2f}s + the "
            f"count + the rows as the client reads them = {least:.2f}s = "
            f"{least / raw.seconds:.2f}x the client"
        )
    print(f"fixed cost: hop 1 of a one-row table {fixed.seconds:.2f}s, {fixed.peak_rss_mb:.0f} MB")
    hops = [hop for _, _, hop in results]
    growth = hops[-1].peak_rss_mb / hops[0].peak_rss_mb
    checks = [
        (f"hop 1 within {RATIO_LIMIT}x of the client at every size",
         all(hop.seconds <= RATIO_LIMIT * raw.seconds for raw, _, hop in results)),
        (f"peak RSS of hop 1 under {RSS_LIMIT_MB} MB",
         all(h.peak_rss_mb < RSS_LIMIT_MB for h in hops)),
        (f"peak RSS flat from smallest to largest (x{growth:.2f}, at most x1.15)", growth <= 1.15),
    ]  # fmt: skip
    for name, ok in checks:
        print(f"{'ok  ' if ok else 'MISS'} {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="sizes (default 1M and 2M)")
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    parser.add_argument(
        "--partitions",
        type=int,
        default=0,
        help="read the table in N key ranges in parallel (the table's --partitions; writers "
        "wait while the ranges begin: docs/connectors/mysql.md); 0: one read",
    )
    args = parser.parse_args()
    # Time sluice as installed: pip compiles what it installs, but where
    # PYTHONDONTWRITEBYTECODE is set every process timed would compile a checkout's modules anew.
    compileall.compile_dir(PROJECT / "src", quiet=1)
    sizes = sorted(args.rows or [1_000_000, 2_000_000])
    database = f"sluice_bench_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="sluice_bench_"))
    execute(None, f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    results: list[tuple[Step, Step, Step]] = []
    try:
        execute(database, f"CREATE TABLE {TABLE} ({COLUMNS}) ENGINE=InnoDB")
        execute(database, f"CREATE TABLE {ONE_ROW} ({COLUMNS}) ENGINE=InnoDB")
        execute(database, FILL.format(table=ONE_ROW, low=1, high=1))
        sluice = Sluice(workdir)
        sluice.configure(database, workdir, args.partitions)
        fixed = median(lambda: sluice.hop1(1, ONE_ROW))
        floor = median(libraries)
        filled = 0
        for rows in sizes:
            print(f"filling to {rows:,} rows ... ", end="", flush=True)
            print(f"{fill(database, filled + 1, rows):.1f}s")
            filled = rows
            client(database, rows)  # warm the buffer pool: both timed reads find it hot
            raw = median(lambda: client(database, rows))  # noqa: B023 (called at once)
            counted = median(lambda: count(database, rows))  # noqa: B023
            hop = median(lambda: sluice.hop1(rows))  # noqa: B023
            print(f"  client {raw.seconds:.2f}s, hop 1 {hop.seconds:.2f}s", flush=True)
            results.append((raw, counted, hop))
    finally:
        if not args.keep:
            execute(None, f"DROP DATABASE IF EXISTS `{database}`")
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(results, fixed, floor, args.partitions)
    if args.keep:
        print(f"kept: database {database}; files in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
