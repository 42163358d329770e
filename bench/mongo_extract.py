"""MongoDB -> lake (hop 1) through sluice, timed against pymongo reading the same documents.

    .venv/bin/python bench/mongo_extract.py --docs 100000 --docs 200000

No mongod can run here: the collection lives in SecantusDB (tests/mongo_server.py's
stand-in, a MongoDB wire-protocol server on WiredTiger), started by this script. So the
figures say what sluice adds on top of a MongoDB read, not what a real mongod serves. For each
size it times, one after the other, as processes of their own:

    pymongo     every document of the collection through a pymongo cursor (decoded BSON,
                thrown away): the driver's own reading speed, the physical limit here
    sluice hop 1  `sluice run orders --hop source_to_dl` (full: the count in the read's
                snapshot, columns inferred from the sample, documents into Arrow and Parquet)

Each three times, the median reported with its peak RSS (wait4); hop 1 as a ratio to the
pymongo read, and its stages' seconds. The documents are mixed: ints, a Decimal128, a date,
strings, a nested document and an array. SecantusDB scans the whole collection for every query
(a `$sample`, a `sort(_id).limit()`, a count: each about what a full read costs), where a
mongod walks an index or a random cursor: hop 1's inference (in check_source and again in
extract) and its count weigh far more here than against a real server. Not a test: run it by
hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
REPEATS = 3
READ = """
import sys, pymongo
client = pymongo.MongoClient(sys.argv[1])
count = sum(1 for _ in client.bench.orders.find({}, batch_size=10_000))
assert count == int(sys.argv[2]), count
"""


def documents(low: int, high: int) -> list[dict[str, Any]]:
    from bson import Decimal128

    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "_id": n, "customer": f"customer {n % 9973}", "quantity": n % 1000,
            "amount": Decimal128(f"{n * 37 % 10_000_000 / 100:.2f}"),
            "at": start + timedelta(seconds=n), "active": n % 3 == 0,
            "address": {"city": f"city {n % 97}", "zip": n % 99_999},
            "tags": [f"t{n % 7}", f"t{n % 11}"],
            "note": None if n % 5 == 0 else f"note {n % 1000}",
        }
        for n in range(low, high)
    ]  # fmt: skip


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and the stages' seconds (a run's --json) of one process."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{output[-3000:]}")
    stages = ""
    if output.startswith("{"):
        report = json.loads(output)
        stages = ", ".join(f"{s['stage_type']} {s['time_taken']:.2f}" for s in report["stages"])
    return seconds, usage.ru_maxrss / 1024, stages


def median(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    runs = sorted(measured(argv, env) for _ in range(REPEATS))
    return runs[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, action="append", help="collection sizes, ascending")
    sizes = sorted(parser.parse_args().docs or [100_000, 200_000])
    import pymongo
    from secantus import SecantusDBServer

    with tempfile.TemporaryDirectory(prefix="sluice-mongo-bench-") as scratch:
        work = Path(scratch)
        server = SecantusDBServer(storage_path=str(work / "secantus"))
        server.start()
        try:
            uri = str(server.uri)
            env = {
                **os.environ,
                "PYTHONPATH": str(PROJECT / "src"),
                "SLUICE_CONFIG_DB": str(work / "config.db"),
                "SLUICE_LAKE": str(work / "lake"),
            }
            sluice = [sys.executable, "-m", "sluice"]

            def cli(*words: str) -> None:
                subprocess.run([*sluice, *words], env=env, check=True, capture_output=True)

            client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
            cli("init")
            creds = {"uri": uri, "database": "bench"}
            client.bench.orders.insert_one({"_id": -1})
            cli("source", "add", "m", "--type", "mongo", "--creds", json.dumps(creds))
            cli("destination", "add", "d", "--type", "duckdb", "--creds",
                json.dumps({"path": str(work / "unused.duckdb")}))  # fmt: skip
            cli("table", "add", "orders", "--source", "m", "--destination", "d",
                "--primary-key", "_id", "--no-check")  # fmt: skip
            client.bench.orders.delete_many({})
            filled = 0
            results = []
            for size in sizes:
                for low in range(filled, size, 20_000):
                    client.bench.orders.insert_many(documents(low, min(low + 20_000, size)))
                filled = size
                raw = median([sys.executable, "-c", READ, uri, str(size)], env)
                hop = median([*sluice, "run", "orders", "--hop", "source_to_dl", "--json"], env)
                results.append((size, raw, hop))
            client.close()
        finally:
            server.stop()
    print(f"\nsluice MongoDB extract (hop 1) against SecantusDB, median of {REPEATS}\n")
    print(f"{'documents':>10} {'step':<14} {'seconds':>8} {'docs/s':>9} {'ratio':>6} {'RSS MB':>7}")
    for size, (raw_s, raw_mb, _), (hop_s, hop_mb, stages) in results:
        print(f"{size:>10,} {'pymongo read':<14} {raw_s:>8.2f} {size / raw_s:>9,.0f} "
              f"{'':>6} {raw_mb:>7.0f}")  # fmt: skip
        print(f"{size:>10,} {'sluice hop 1':<14} {hop_s:>8.2f} {size / hop_s:>9,.0f} "
              f"{hop_s / raw_s:>5.2f}x {hop_mb:>7.0f}  ({stages})")  # fmt: skip


if __name__ == "__main__":
    main()
