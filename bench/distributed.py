"""Many tiny tables, both hops, on the local executor against warm Celery workers.

Run by hand:  .venv/bin/python bench/distributed.py [--tables N] [--broker URL]

Makes N five-row tables in a scratch PostgreSQL database (the source), a PostgreSQL config
database and sink, and a lake under a temporary directory, every table due for both hops
(`--hop-order after`: hop 2's run follows hop 1's). Then it runs `sluice scheduler` (the
daemon, ticking every 0.5 s) until every table's two runs have succeeded, twice:

    local    each run a child process, its stages in it (SLUICE_EXECUTOR=local);
             --max-concurrent 4 (children beyond that only share the 2 cores)
    celery   each run waits on a thread of the scheduler; its stages run on 2 warm
             `sluice worker` processes (SLUICE_EXECUTOR=celery, Redis by default);
             --max-concurrent 8 (a waiting thread costs nothing)

and prints runs per minute of each and their ratio (issue 17's target: celery at least 5x).

Part (b), `--partitioned-rows R` (0 skips it): a table of R mixed rows (10,000,000 by default),
hop 1 as a whole `sluice run` process on the celery executor, with 1, 2 and 4 partitions, 2 warm
workers serving the extract's queue; printed against raw binary `COPY TO` a file measured in
the same run (the physical limit of one reader). With 1 partition the read is the worker's own
(two COPY streams of one snapshot in one process: connectors/postgres/source.py).

The machine has 2 cores: both modes share them with PostgreSQL. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

PROJECT = Path(__file__).resolve().parent.parent
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
KEY = "k3NcJ3G9B0YxM3mX2pQv8LkVnTf6RzWcA1sDyHuIoEg="  # a Fernet key, for this bench only
TARGET = 5.0


def database(name: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill_source(url: str, tables: int) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        for i in range(tables):
            c.execute(f"CREATE TABLE t{i:04d} (id int PRIMARY KEY, v text)")
            c.execute(f"INSERT INTO t{i:04d} SELECT g, 'v' || g FROM generate_series(1, 5) g")


def configure(env: dict[str, str], work: Path, source: str, sink: str, tables: int) -> None:
    def cli(*words: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "sluice", *words], env=env, check=True, capture_output=True
        )

    cli("init", "--lake", str(work / "lake"))
    cli("source", "add", "src", "--type", "postgres", "--creds", json.dumps({"url": source}))
    cli("destination", "add", "wh", "--type", "postgres", "--creds", json.dumps({"url": sink}))
    # The tables as `table add --no-check` would store them, in one statement.
    with psycopg.connect(env["SLUICE_CONFIG_DB"], autocommit=True) as c:
        c.execute(
            "INSERT INTO pipeline_config (source_tablename, sink_tablename, "
            "source_to_dl_schedule, source_to_dl_load_type, source_to_dl_is_active, source_type, "
            "dl_to_sink_schedule, dl_to_sink_load_type, dl_to_sink_is_active, sink_type, "
            "source_name, destination_name, pipeline_name, primary_key, dl_to_sink_hop_order) "
            "SELECT 'public.t' || lpad(i::text, 4, '0'), 'public.t' || lpad(i::text, 4, '0'), "
            "1440, 'full', true, 'postgres', 1440, 'full', true, 'postgres', 'src', 'wh', "
            "'default', 'id', 'after' FROM generate_series(0, %s) i",
            (tables - 1,),
        )


def runs_with(config_db: str, status: str) -> int:
    with psycopg.connect(config_db) as c:
        query = "SELECT count(*) FROM pipeline_runs_master WHERE status = %s"
        row = c.execute(query, (status,)).fetchone()
    return int(row[0]) if row else 0


CONCURRENT = {"local": 4, "celery": 8}


def measure(env: dict[str, str], tables: int, work: Path) -> float:
    """Seconds for the scheduler to run every table's two hops."""
    log = open(work / f"scheduler-{env['SLUICE_EXECUTOR']}.log", "w")  # noqa: SIM115
    started = time.perf_counter()
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "sluice", "scheduler", "--tick", "0.5", "--max-concurrent",
         str(CONCURRENT[env["SLUICE_EXECUTOR"]]), "--grace", "5"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        while runs_with(env["SLUICE_CONFIG_DB"], "success") < 2 * tables:
            if runs_with(env["SLUICE_CONFIG_DB"], "failed"):
                raise SystemExit(f"a run failed: see {log.name} and `sluice runs`")
            time.sleep(0.5)
        return time.perf_counter() - started
    finally:
        os.killpg(scheduler.pid, signal.SIGTERM)
        scheduler.wait(timeout=60)
        log.close()


def fill_big(url: str, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, n bigint, amount numeric(12, 2), "
            "label text, at timestamptz, flag boolean)"
        )
        c.execute(
            "INSERT INTO big SELECT g, g * 7919 %% 1000003, (g %% 100000) / 100.0, "
            "md5(g::text), '2024-01-01'::timestamptz + g * interval '1 second', g %% 3 = 0 "
            "FROM generate_series(1, %s::bigint) g",
            (rows,),
        )
        c.execute("VACUUM ANALYZE big")
        c.execute("CREATE TABLE warm AS SELECT * FROM big LIMIT 5")


def raw_copy_to(url: str, path: Path) -> float:
    started = time.perf_counter()
    with psycopg.connect(url) as c, open(path, "wb") as out:
        with c.cursor().copy("COPY (SELECT * FROM big) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    path.unlink()
    return time.perf_counter() - started


def partitioned(args: argparse.Namespace, token: str, work: Path) -> None:
    """Part (b): hop 1 of one large table with 1, 2 and 4 partitions on 2 warm workers."""
    names = [f"sluice_dist_big_{token}", f"sluice_dist_bigcfg_{token}"]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        source = database(names[0])
        print(f"filling {args.partitioned_rows:,} rows ...", flush=True)
        fill_big(source, args.partitioned_rows)
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT / "src"),
            "SLUICE_CONFIG_DB": database(names[1]),
            "SLUICE_SECRET_KEY": KEY,
            "SLUICE_EXECUTOR": "celery",
            "SLUICE_BROKER_URL": args.broker,
        }

        def cli(*words: str) -> None:
            done = subprocess.run(
                [sys.executable, "-m", "sluice", *words], env=env, capture_output=True, text=True
            )
            if done.returncode:
                raise SystemExit(f"sluice {' '.join(words)}: {done.stderr.strip()}")

        cli("init", "--lake", str(work / "big-lake"))
        cli("source", "add", "src", "--type", "postgres", "--creds", json.dumps({"url": source}))
        sink = json.dumps({"path": str(work / "unused.duckdb")})
        cli("destination", "add", "wh", "--type", "duckdb", "--creds", sink)
        cli("table", "add", "public.big", "--primary-key", "id", "--source", "src",
            "--destination", "wh", "--no-check")  # fmt: skip
        cli("table", "add", "public.warm", "--source", "src", "--destination", "wh", "--no-check")
        for n in range(2):
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "sluice", "worker", "--queue", "driver_source_to_dl"],
                    env=env, stdout=open(work / f"big-worker-{n}.log", "w"),  # noqa: SIM115
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            )  # fmt: skip
        time.sleep(8)
        cli("run", "public.warm", "--hop", "source_to_dl")  # the workers' first task imports
        raw = raw_copy_to(source, work / "raw.copy")
        timed: dict[int, float] = {}
        for parts in (1, 2, 4):
            cli("table", "edit", "public.big", "--partitions", str(parts))
            started = time.perf_counter()
            cli("run", "public.big", "--hop", "source_to_dl")
            timed[parts] = time.perf_counter() - started
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        for name in names:
            drop(name)
    rows = args.partitioned_rows
    print(f"(b) {rows:,}-row PostgreSQL table, hop 1 as a whole CLI process, 2 warm workers")
    print(f"  raw COPY TO file   {raw:7.2f} s   {rows / raw:12,.0f} rows/s")
    for parts, seconds in timed.items():
        print(
            f"  {parts} partition(s)     {seconds:7.2f} s   {rows / seconds:12,.0f} rows/s   "
            f"{seconds / raw:.2f}x raw   {timed[1] / seconds:.2f}x 1 partition"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500, help="0 skips part (a)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--partitioned-rows", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.partitioned_rows:
        partitioned(args, uuid.uuid4().hex[:8], Path(tempfile.mkdtemp(prefix="sluice-big-")))
    if args.tables:
        tiny(args)


def tiny(args: argparse.Namespace) -> None:
    token = uuid.uuid4().hex[:8]
    names = {role: f"sluice_dist_{role}_{token}" for role in ("src", "sink", "local", "celery")}
    work = Path(tempfile.mkdtemp(prefix="sluice-distributed-"))
    workers: list[subprocess.Popen[bytes]] = []
    results: dict[str, float] = {}
    try:
        source = database(names["src"])
        fill_source(source, args.tables)
        for mode in ("local", "celery"):
            sink = database(f"{names['sink']}_{mode}")
            env = {
                **os.environ,
                "PYTHONPATH": str(PROJECT / "src"),
                "SLUICE_CONFIG_DB": database(names[mode]),
                "SLUICE_SECRET_KEY": KEY,
                "SLUICE_EXECUTOR": mode,
                "SLUICE_BROKER_URL": args.broker,
            }
            (work / mode).mkdir()
            configure(env, work / mode, source, sink, args.tables)
            if mode == "celery":
                for n in range(2):
                    workers.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "sluice", "worker", "--queue",
                             "driver_source_to_dl", "--queue", "driver_dl_to_sink"],
                            env=env, stdout=open(work / f"worker-{n}.log", "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True,
                        )
                    )  # fmt: skip
                time.sleep(8)  # started and warm: their first task imports nothing more
            results[mode] = measure(env, args.tables, work / mode)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        for name in [names["src"], names["local"], names["celery"]] + [
            f"{names['sink']}_{m}" for m in ("local", "celery")
        ]:
            drop(name)
    runs = 2 * args.tables
    print(
        f"{args.tables} tiny PostgreSQL tables, both hops ({runs} runs), --max-concurrent "
        f"{CONCURRENT['local']} local, {CONCURRENT['celery']} celery"
    )
    for mode, seconds in results.items():
        print(f"  {mode:7s} {seconds:7.1f} s   {runs / seconds * 60:7.1f} runs/min")
    ratio = results["local"] / results["celery"]
    print(
        f"  celery / local: {ratio:.2f}x (target {TARGET}x: {'ok' if ratio >= TARGET else 'MISS'})"
    )


if __name__ == "__main__":
    main()
