"""PostgreSQL -> lake -> PostgreSQL through sluice, timed against raw binary COPY.

    .venv/bin/python bench/postgres_roundtrip.py --rows 1000000

Against the local server (127.0.0.1:5432, user postgres, trust) it creates a source and a target
database, fills a mixed-type table server-side, then times, one after the other:

    raw COPY TO     COPY (SELECT * FROM t) TO STDOUT (FORMAT binary) into a file (fsynced)
    raw COPY FROM   COPY t2 FROM STDIN (FORMAT binary) from that file, t2 shaped like t
    sluice hop 1    `sluice run t --hop source_to_dl` (full) into a fresh local lake
    sluice hop 2    `sluice run t --hop dl_to_sink` (full) into a fresh table of the target

Raw COPY is the physical limit of each direction: the hops are reported as a ratio to it.
Each sluice hop runs as its own subprocess through the real CLI (check, extract/load and
verify stages included), and its wall time and peak RSS are measured by wait4. At the end the
target table is compared with the source (row count and a sum of row hashes) and both
databases are dropped. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
TABLE = "bench_rows"
RAW_TARGET = "bench_rows_raw"
COPY_CHUNK = 1 << 20
RSS_LIMIT_MB = 400

COLUMNS = """
    id          bigint PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    quantity    integer NOT NULL,
    code        text NOT NULL,
    email       text NOT NULL,
    amount      numeric(12,2) NOT NULL,
    score       integer,
    active      boolean NOT NULL,
    note        text,
    attrs       jsonb
"""
# Server-side generation: one INSERT ... SELECT, no client round trips.
FILL = """
INSERT INTO {table}
SELECT g,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second'
           + (g % 86400) * interval '1 millisecond',
       (g % 1000)::integer,
       'c' || (g % 10000),
       'user' || g || '@example' || (g % 97) || '.com',
       ((g * 37) % 10000000 / 100.0)::numeric(12,2),
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 7 % 100000)::integer END,
       g % 3 = 0,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || (g % 1000) END,
       CASE WHEN g % 13 = 0 THEN NULL
            ELSE jsonb_build_object('k', g % 100, 'tag', 't' || (g % 7), 'ok', g % 2 = 0) END
FROM generate_series(1, %s) AS g
"""
# Cheap to compute on 5M rows, and it changes if any value of any row changes.
CHECKSUM = "SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0) FROM {table} AS t"


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    rows: int
    peak_rss_mb: float | None = None
    stages: tuple[tuple[str, float], ...] = ()

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def conninfo(database: str) -> str:
    return f"host={HOST} port={PORT} user={USER} dbname={database}"


def connect(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo(database), autocommit=True)


@contextmanager
def databases(names: list[str], keep: bool) -> Iterator[None]:
    with connect("postgres") as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield
        finally:
            if not keep:
                for name in names:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checkpoint() -> None:
    """Start each timed step with no dirty pages left by the previous one."""
    with connect("postgres") as admin:
        admin.execute("CHECKPOINT")


def fill_source(database: str, rows: int) -> float:
    started = time.perf_counter()
    with connect(database) as db:
        db.execute(f"CREATE TABLE {TABLE} ({COLUMNS})")
        db.execute(FILL.format(table=TABLE).replace("%s", str(int(rows))))
        # Frozen and hinted, so no timed read pays for setting hint bits.
        db.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    return time.perf_counter() - started


def raw_copy_to(database: str, path: Path, rows: int) -> Step:
    checkpoint()
    started = time.perf_counter()
    with connect(database) as db, open(path, "wb") as out:
        with db.cursor().copy(f"COPY (SELECT * FROM {TABLE}) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                out.write(chunk)
        out.flush()
        os.fsync(out.fileno())  # the lake's parts are fsynced too
    return Step("raw COPY TO file", time.perf_counter() - started, rows)


def raw_copy_from(database: str, path: Path, rows: int) -> Step:
    with connect(database) as db:
        db.execute(f"CREATE TABLE {RAW_TARGET} ({COLUMNS})")
    checkpoint()
    started = time.perf_counter()
    with (
        connect(database) as db,
        open(path, "rb") as source,
        db.cursor().copy(f"COPY {RAW_TARGET} FROM STDIN (FORMAT binary)") as copy,
    ):
        while chunk := source.read(COPY_CHUNK):
            copy.write(chunk)
    return Step("raw COPY FROM file", time.perf_counter() - started, rows)


class Sluice:
    """The product's CLI in a scratch config database and lake."""

    def __init__(self, workdir: Path, executable: Path) -> None:
        self.executable = executable
        self.env = {
            **os.environ,
            "SLUICE_CONFIG_DB": str(workdir / "config.db"),
            "SLUICE_LAKE": str(workdir / "lake"),
        }
        self.logs = workdir

    def command(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.executable), *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"sluice {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def configure(self, source_db: str, target_db: str) -> None:
        self.command("init", "--lake", self.env["SLUICE_LAKE"])
        for kind, name, database in (
            ("source", "bench_src", source_db),
            ("destination", "bench_dst", target_db),
        ):
            creds = {"host": HOST, "port": PORT, "user": USER, "database": database}
            self.command(kind, "add", name, "--type", "postgres", "--creds", json.dumps(creds))
        self.command(
            "table",
            "add",
            TABLE,
            "--source",
            "bench_src",
            "--destination",
            "bench_dst",
            "--load",
            "full",
            "--sink-load",
            "full",
            "--primary-key",
            "id",
        )

    def run_hop(self, hop: str, label: str, rows: int) -> Step:
        """One `sluice run` in its own process: wall time and peak RSS from wait4."""
        log_path = self.logs / f"{hop}.log"
        checkpoint()
        started = time.perf_counter()
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [str(self.executable), "run", TABLE, "--hop", hop, "--json"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output = log_path.read_text()
        if process.returncode != 0:
            raise SystemExit(f"sluice run --hop {hop} failed:\n{output}")
        report = json.loads(output[output.index("{") :])
        stages = tuple(
            (str(stage["stage_type"]), float(stage["time_taken"] or 0))
            for stage in report.get("stages", [])
        )
        # ru_maxrss is in KiB on Linux.
        return Step(label, seconds, rows, usage.ru_maxrss / 1024, stages)


def checksum(database: str, table: str) -> tuple[int, int]:
    with connect(database) as db:
        row = db.execute(CHECKSUM.format(table=table)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def print_report(rows: int, steps: dict[str, Step], same: bool) -> None:
    print(f"\nsluice PostgreSQL round trip, {rows:,} rows, {os.cpu_count()} CPUs\n")
    header = f"{'step':<20} {'seconds':>9} {'rows/s':>12} {'vs raw':>8} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    raw = {"hop1": steps["copy_to"].seconds, "hop2": steps["copy_from"].seconds}
    for key, step in steps.items():
        ratio = f"{step.seconds / raw[key]:.2f}x" if key in raw else ""
        rss = f"{step.peak_rss_mb:.0f}" if step.peak_rss_mb is not None else ""
        print(
            f"{step.name:<20} {step.seconds:>9.2f} {step.rows_per_second:>12,.0f} "
            f"{ratio:>8} {rss:>12}"
        )
    for key in ("hop1", "hop2"):
        stages = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in steps[key].stages)
        print(f"  {steps[key].name} stages: {stages}")
    print(f"\ntarget equals source (count + sum of row hashes): {'yes' if same else 'NO'}")
    checks = [
        ("hop 1 within 1.2x of raw COPY TO", steps["hop1"].seconds <= 1.2 * raw["hop1"]),
        ("hop 2 within 1.0x of raw COPY FROM", steps["hop2"].seconds <= 1.0 * raw["hop2"]),
        (
            "peak RSS of each hop under 400 MB",
            all((steps[key].peak_rss_mb or 0) < RSS_LIMIT_MB for key in ("hop1", "hop2")),
        ),
    ]
    for name, ok in checks:
        print(f"{'ok  ' if ok else 'MISS'} {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the databases and files")
    parser.add_argument(
        "--sluice",
        type=Path,
        default=Path(sys.executable).with_name("sluice"),
        help="the sluice executable (default: beside this Python)",
    )
    args = parser.parse_args()
    # Time sluice as installed: pip compiles what it installs, but where
    # PYTHONDONTWRITEBYTECODE is set every process timed would compile a checkout's modules anew.
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "src", quiet=1)
    tag = secrets.token_hex(4)
    source_db, target_db = f"sluice_bench_src_{tag}", f"sluice_bench_dst_{tag}"
    workdir = Path(tempfile.mkdtemp(prefix="sluice_bench_"))
    try:
        steps, same = run_all(args.rows, source_db, target_db, workdir, args)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(args.rows, steps, same)
    if args.keep:
        print(f"kept: databases {source_db}, {target_db}; files in {workdir}")
    return 0 if same else 1


def run_all(
    rows: int, source_db: str, target_db: str, workdir: Path, args: argparse.Namespace
) -> tuple[dict[str, Step], bool]:
    steps: dict[str, Step] = {}
    with databases([source_db, target_db], args.keep):
        print(f"filling {rows:,} rows ... ", end="", flush=True)
        print(f"{fill_source(source_db, rows):.1f}s")
        sluice = Sluice(workdir, args.sluice)
        sluice.configure(source_db, target_db)
        copy_file = workdir / "raw.copy"
        measures: list[tuple[str, Callable[[], Step]]] = [
            ("copy_to", lambda: raw_copy_to(source_db, copy_file, rows)),
            ("copy_from", lambda: raw_copy_from(target_db, copy_file, rows)),
            ("hop1", lambda: sluice.run_hop("source_to_dl", "sluice hop 1", rows)),
            ("hop2", lambda: sluice.run_hop("dl_to_sink", "sluice hop 2", rows)),
        ]
        for key, measure in measures:
            steps[key] = measure()
            print(f"  {steps[key].name}: {steps[key].seconds:.2f}s", flush=True)
            if key == "copy_from":
                copy_file.unlink()
        same = checksum(source_db, TABLE) == checksum(target_db, TABLE)
    return steps, same


if __name__ == "__main__":
    sys.exit(main())
