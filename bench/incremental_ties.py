"""Incremental hop 1 when every row shares one watermark value, timed against a full read.

    .venv/bin/python bench/incremental_ties.py --rows 500000 --repeat 3

Against the local PostgreSQL (127.0.0.1:5432, user postgres, trust) it creates a throwaway
database with a table of ROWS rows (bigint id, text, numeric, timestamptz updated_at), then
runs sluice's real hop 1 through the CLI (a subprocess each, check, extract and verify stages
included) and times, per repetition:

    raw COPY        COPY (SELECT * FROM t) TO STDOUT (FORMAT binary): the physical limit
    full            `sluice run t --hop source_to_dl` with --load full into a fresh lake
    ties, new       all rows set to one new updated_at, then an incremental hop 1: every
                    row is newer than the watermark and every row sits at the new one (the
                    look-back window of the next run holds all of them)
    ties, held      an incremental hop 1 with nothing new: it reads all ROWS rows again
                    (key >= watermark) and must drop every one as already held

and prints each time, its ratio to the full read (target: at most 1.3x) and to raw COPY,
then the median over the repetitions. The held run must load 0 rows and the new-ties run
exactly ROWS: checked, not assumed. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
KEY = "k3NcJ3G9B0YxM3mX2pQv8LkVnTf6RzWcA1sDyHuIoEg="  # a Fernet key for the bench's config only


def sluice(workdir: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "SLUICE_SECRET_KEY": KEY}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sluice", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sluice {' '.join(args)} failed: {done.stderr or done.stdout}")
    return seconds, done.stdout


def extracted(stdout: str) -> int:
    run = json.loads(stdout)
    return sum(s["rows_processed"] or 0 for s in run["stages"] if s["stage_type"] == "extract")


def raw_copy(url: str) -> float:
    started = time.perf_counter()
    query = "COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)"
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(query) as copy:
        for _ in copy:
            pass
    return time.perf_counter() - started


def one_round(url: str, rows: int, index: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sluice-ties-") as tmp:
        workdir = Path(tmp)
        sluice(workdir, "init")
        sluice(
            workdir,
            "source",
            "add",
            "src",
            "--type",
            "postgres",
            "--creds",
            json.dumps({"url": url}),
        )
        wh = json.dumps({"path": str(workdir / "wh.duckdb")})
        sluice(workdir, "destination", "add", "wh", "--type", "duckdb", "--creds", wh)
        sluice(workdir, "table", "add", "t", "--source", "src", "--destination", "wh",
               "--load", "full", "--key", "updated_at", "--primary-key", "id")  # fmt: skip
        copy = raw_copy(url)
        full, out = sluice(workdir, "run", "t", "--hop", "source_to_dl", "--json")
        assert extracted(out) == rows, out
        sluice(workdir, "table", "edit", "t", "--load", "incremental")
        with psycopg.connect(url, autocommit=True) as conn:
            # A new value each round (past, so the guard against future keys stays quiet).
            conn.execute(
                f"UPDATE t SET updated_at = timestamptz '2026-06-01 00:00:00+00' + {index} * "
                "interval '1 day'"
            )
            conn.execute("VACUUM ANALYZE t")
        new, out = sluice(workdir, "run", "t", "--hop", "source_to_dl", "--json")
        assert extracted(out) == rows, f"new ties: {extracted(out)} rows extracted"
        held, out = sluice(workdir, "run", "t", "--hop", "source_to_dl", "--json")
        assert extracted(out) == 0, f"held ties: {extracted(out)} rows extracted again"
    return {"raw COPY": copy, "full": full, "ties, new": new, "ties, held": held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    name = f"sluice_ties_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE t (id bigint PRIMARY KEY, note text NOT NULL, amount numeric(12,2), "
                "updated_at timestamptz NOT NULL)"
            )
            conn.execute(
                "INSERT INTO t SELECT g, 'note number ' || g, (g % 100000) / 100.0, "
                "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' "
                f"FROM generate_series(1, {args.rows}) g"
            )
            conn.execute("VACUUM ANALYZE t")
        rounds = []
        for index in range(args.repeat):
            figures = one_round(url, args.rows, index)
            rounds.append(figures)
            shown = ", ".join(f"{k} {v:.2f} s" for k, v in figures.items())
            print(f"round {index + 1}: {shown}", flush=True)
        print(f"\n{args.rows:,} rows, median of {len(rounds)}:")
        full = statistics.median(r["full"] for r in rounds)
        copy = statistics.median(r["raw COPY"] for r in rounds)
        for label in ("raw COPY", "full", "ties, new", "ties, held"):
            value = statistics.median(r[label] for r in rounds)
            print(
                f"  {label:<11} {value:6.2f} s   {value / full:5.2f}x full   "
                f"{value / copy:5.1f}x raw COPY"
            )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
