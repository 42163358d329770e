"""The scheduler left alone: 20 tables at 1-minute intervals for 30 minutes, a writer running.

Run by hand:  .venv/bin/python bench/scheduler_soak.py [--tables N] [--minutes M] [--dir D]
              [--max-concurrent C]

Builds a SQLite source with N small tables (an incremental key on half of them, full loads on
the rest) and a DuckDB sink in a fresh directory, starts the real `sluice scheduler` (tick 5s,
--max-concurrent runs at once, 4 by default) as a child process, and inserts rows into every
table while it runs. Every
30 seconds it samples the scheduler's process: its <defunct> children (unreaped runs), its
resident memory, and the runs so far by status. At the end it stops the scheduler with SIGTERM
and prints the samples, the count of "ended" lines in its log, and a verdict: no zombie in
any sample, and memory after the first five minutes within 5 MB of its value then.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_SECONDS = 30


def zombies(pid: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += fields[0] == "Z" and int(fields[1]) == pid
    return count


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sluice(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sluice", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"sluice {' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--max-concurrent", default="4")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="sluice-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("SLUICE_CONFIG_DB", None)
    env.setdefault("SLUICE_SECRET_KEY", "k3NcJ3G9B0YxM3mX2pQv8LkVnTf6RzWcA1sDyHuIoEg=")
    source = work / "src.db"
    with sqlite3.connect(source) as c:
        c.execute("PRAGMA journal_mode=WAL")
        for n in range(args.tables):
            c.execute(f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY, v TEXT, changed INTEGER)")
            c.executemany(
                f"INSERT INTO t{n} VALUES (?, ?, ?)", [(i, "x", i) for i in range(1, 500)]
            )
    sluice(env, work, "init")
    src = json.dumps({"path": str(source)})
    sluice(env, work, "source", "add", "src", "--type", "sqlite", "--creds", src)
    wh = json.dumps({"path": str(work / "wh.duckdb")})
    sluice(env, work, "destination", "add", "wh", "--type", "duckdb", "--creds", wh)
    for n in range(args.tables):
        load = ["--load", "incremental", "--key", "changed"] if n % 2 else []
        sluice(
            env, work, "table", "add", f"t{n}", "--source", "src", "--destination", "wh",
            "--every", "1", "--sink-every", "1", "--primary-key", "id", *load,
        )  # fmt: skip
    log = (work / "scheduler.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "sluice", "scheduler", "--tick", "5",
         "--max-concurrent", args.max_concurrent],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    writer = sqlite3.connect(source, timeout=30)
    samples: list[tuple[float, int, int, str]] = []
    started = time.monotonic()
    next_sample = started
    try:
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            with writer:
                for n in range(args.tables):
                    writer.execute(
                        f"INSERT INTO t{n} (v, changed) SELECT 'w', max(changed) + 1 FROM t{n}"
                    )
            if time.monotonic() >= next_sample:
                counts = subprocess.run(
                    [sys.executable, "-m", "sluice", "runs", "--json", "--limit", "10000"],
                    cwd=work, env=env, capture_output=True, text=True,
                ).stdout  # fmt: skip
                by_status: dict[str, int] = {}
                for run in json.loads(counts or "[]"):
                    by_status[run["status"]] = by_status.get(run["status"], 0) + 1
                sample = (elapsed / 60, zombies(daemon.pid), rss_kb(daemon.pid), str(by_status))
                samples.append(sample)
                print("{:5.1f} min  zombies {}  rss {} kB  runs {}".format(*sample), flush=True)
                next_sample += SAMPLE_SECONDS
            time.sleep(1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=600)
        log.close()
    ended = sum(" ended: " in line for line in (work / "scheduler.log").open())
    warm = [s for s in samples if s[0] >= min(5.0, args.minutes / 2)]
    growth = (warm[-1][2] - warm[0][2]) if warm else 0
    print(f"runs ended (scheduler log): {ended}; max zombies {max(s[1] for s in samples)}")
    first, settled, last = samples[0][2], warm[0][2], samples[-1][2]
    print(f"rss {first} kB at start, {settled} kB after warm-up, {last} kB at end")
    ok = max(s[1] for s in samples) == 0 and growth < 5 * 1024
    print("verdict:", "ok" if ok else "FAILED", f"(growth after warm-up {growth} kB)")
    print("workdir:", work)


if __name__ == "__main__":
    main()
