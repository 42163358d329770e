"""What a tiny run costs: both hops of a 25-row table as a whole `sluice run` process.

Run by hand:  .venv/bin/python bench/run_overhead.py [--runs N] [--batches B]

Sets up a scratch config database, lake and DuckDB sink for Chinook's Genre table (SQLite,
incremental on GenreId both hops), runs it once to create everything, then times N more
whole-process runs (six stages), each after one new source row, so each writes, publishes
and loads a batch; it prints their median beside what the process spends before any run:
the interpreter alone (`python -c pass`), importing the CLI and the engine, and importing
only the libraries a run of this table uses (pyarrow with Parquet, SQLAlchemy, DuckDB,
pyiceberg, Typer and Rich): the floor no run process can go below with them. With
--batches B it then makes B more batches the same way (in one process, to save time) and
times N runs again: the run's cost as a table's history grows. Targets: the median at most
0.6 s (issue 15); after 300 batches at most 1.1x the first median (issue 16). Not a test.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CHINOOK = PROJECT.parent / "shared" / "datasets" / "chinook" / "Chinook_Sqlite.sqlite"
TARGET_S = 0.6
GROWTH_TARGET = 1.1
# What a run of the Genre table imports that is not sluice's own code.
LIBRARIES = (
    "import pyarrow, pyarrow.compute, pyarrow.fs, pyarrow.parquet, sqlalchemy, sqlalchemy.orm, "
    "duckdb, typer, rich.console, pyiceberg.catalog.sql, pyiceberg.table, pyiceberg.io.pyarrow"
)


# Each pass adds one Genre row and runs both hops in this one process (the real CLI entry
# point): an incremental hop 1 batch of one row, loaded by hop 2.
MAKE_BATCHES = """
import sys
from sluice.cli.app import main
sys.path.insert(0, sys.argv[3])
from run_overhead import add_row
source, batches = sys.argv[1], int(sys.argv[2])
for _ in range(batches):
    add_row(source)
    sys.argv = ["sluice", "run", "Genre"]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
"""


def add_row(source: str) -> None:
    """One new Genre row, so the next incremental hop 1 run writes (and publishes) a batch."""
    with sqlite3.connect(source) as db:
        (newest,) = db.execute("SELECT max(GenreId) FROM Genre").fetchone()
        db.execute("INSERT INTO Genre (GenreId, Name) VALUES (?, ?)", (newest + 1, "new"))


def timed(argv: list[str], env: dict[str, str], repeat: int, source: str = "") -> float:
    """Median wall time of `argv` as a whole process; with `source`, a row is added before
    each (untimed), so each run has a batch to write and load."""
    times = []
    for _ in range(repeat):
        if source:
            add_row(source)
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--batches", type=int, default=0, help="lake batches made first")
    args = parser.parse_args()
    # Time sluice as installed: pip compiles what it installs, but where
    # PYTHONDONTWRITEBYTECODE is set every process timed would compile a checkout's modules anew.
    compileall.compile_dir(PROJECT / "src", quiet=1)
    work = Path(tempfile.mkdtemp(prefix="sluice-overhead-"))
    try:
        source = work / "chinook.sqlite"
        shutil.copy(CHINOOK, source)
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT / "src"),
            "SLUICE_CONFIG_DB": str(work / "config.db"),
            "SLUICE_LAKE": str(work / "lake"),
        }
        sluice = [sys.executable, "-m", "sluice"]

        def cli(*words: str) -> None:
            subprocess.run([*sluice, *words], env=env, check=True, capture_output=True)

        cli("init")
        cli("source", "add", "c", "--type", "sqlite", "--creds", json.dumps({"path": str(source)}))
        sink = {"path": str(work / "wh.duckdb")}
        cli("destination", "add", "d", "--type", "duckdb", "--creds", json.dumps(sink))
        cli("table", "add", "Genre", "--source", "c", "--destination", "d",
            "--primary-key", "GenreId", "--load", "incremental", "--key", "GenreId",
            "--sink-load", "incremental")  # fmt: skip
        cli("run", "Genre")
        interpreter = timed([sys.executable, "-c", "pass"], env, args.runs)
        imports = timed(
            [sys.executable, "-c", "import sluice.cli.app, sluice.engine.runner"], env, args.runs
        )
        libraries = timed([sys.executable, "-c", LIBRARIES], env, args.runs)
        first = timed([*sluice, "run", "Genre"], env, args.runs, str(source))
        later = None
        if args.batches:
            subprocess.run(
                [sys.executable, "-c", MAKE_BATCHES, str(source), str(args.batches),
                 str(Path(__file__).parent)],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            later = timed([*sluice, "run", "Genre"], env, args.runs, str(source))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"tiny run, both hops, one new row each, median of {args.runs}")
    print(f"  interpreter alone        {interpreter:6.3f} s")
    print(f"  + importing CLI, engine  {imports:6.3f} s")
    print(f"  its libraries alone      {libraries:6.3f} s  (pyarrow, SQLAlchemy, DuckDB, "
          "pyiceberg, Typer, Rich: the floor of a run process)")  # fmt: skip
    print(f"  whole `sluice run`       {first:6.3f} s  (target {TARGET_S} s: "
          f"{'ok' if first <= TARGET_S else 'MISS'})")  # fmt: skip
    if later is not None:
        ratio = later / first
        print(
            f"  after {args.batches} more batches   {later:6.3f} s  = {ratio:.2f}x the first "
            f"(target {GROWTH_TARGET}x: {'ok' if ratio <= GROWTH_TARGET else 'MISS'})"
        )


if __name__ == "__main__":
    main()
