"""What a tiny run costs: both hops of a 25-row table as a whole `sluice run` process.

Run by hand:  .venv/bin/python bench/run_overhead.py [--runs N] [--batches B]

Sets up a scratch config database, lake and DuckDB sink for Chinook's Genre table (SQLite),
runs it once to create everything, then times N more whole-process runs (full both hops,
six stages) and prints their median, beside what the process spends before any run: the
interpreter alone (`python -c pass`) and importing the CLI and the engine. With --batches B
the lake first holds B batches of the table (incremental hop 1: the run's cost as a table's
history grows). Target (issue 15): the median at most 0.6 s. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CHINOOK = PROJECT.parent / "shared" / "datasets" / "chinook" / "Chinook_Sqlite.sqlite"
TARGET_S = 0.6


def timed(argv: list[str], env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--batches", type=int, default=0, help="lake batches made first")
    args = parser.parse_args()
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
        load = ["--load", "incremental", "--key", "GenreId"] if args.batches else []
        cli("table", "add", "Genre", "--source", "c", "--destination", "d",
            "--primary-key", "GenreId", *load)  # fmt: skip
        cli("run", "Genre")
        for _ in range(args.batches):  # each run of an incremental hop 1 adds a batch
            cli("run", "Genre", "--hop", "source_to_dl")
        interpreter = timed([sys.executable, "-c", "pass"], env, args.runs)
        imports = timed(
            [sys.executable, "-c", "import sluice.cli.app, sluice.engine.runner"], env, args.runs
        )
        run = timed([*sluice, "run", "Genre"], env, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"tiny run, both hops, median of {args.runs} (lake batches made first: {args.batches})")
    print(f"  interpreter alone        {interpreter:6.3f} s")
    print(f"  + importing CLI, engine  {imports:6.3f} s")
    print(f"  whole `sluice run`       {run:6.3f} s  (target {TARGET_S} s: "
          f"{'ok' if run <= TARGET_S else 'MISS'})")  # fmt: skip


if __name__ == "__main__":
    main()
