"""Stages on Celery workers (executors/celery.py), with the machine's real Redis and RabbitMQ
as brokers and a PostgreSQL config database: a template routes extract to one queue and the
other stages to another, each served by its own `sluice worker` process; a worker killed in
the middle of an extract has its stage handed to another, and the run ends exact.

Queue names carry a token per test, so tests running at once never take each other's tasks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import CHINOOK_SQLITE, PROJECT, TEST_SECRET_KEY, Sluice
from tests.integration.sinks import duckdb_table, same_rows, sqlite_table
from tests.services import _unreachable, pg_database, pg_target

__all__ = ["pg_database", "pg_target"]
BROKERS = {
    "redis": ("redis://127.0.0.1:6379/0", 6379),
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", 5672),
}
STAGES = ("check_source", "extract", "verify_lake", "check_sink", "load", "verify_sink")


def _reachable(name: str) -> str:
    url, port = BROKERS[name]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    except OSError as exc:
        _unreachable(f"{name} on 127.0.0.1:{port}", exc)
    return url


# Runs each step of argv[1] (a JSON list of argument lists) through the CLI's entry point; the
# first that fails ends the process, naming the step.
CONFIGURE = """
import json, sys
from sluice.cli.app import main
for step in json.loads(sys.argv[1]):
    sys.argv = ["sluice", *step]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            sys.exit(f"sluice {' '.join(step)} exited {exc.code}")
"""


class Cluster:
    """A config database, a lake, and `sluice worker` processes on a broker."""

    def __init__(self, workdir: Path, config_db: str, broker: str) -> None:
        self.workdir = workdir
        self.token = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT / "src"),
            "SLUICE_CONFIG_DB": config_db,
            "SLUICE_BROKER_URL": broker,
            "SLUICE_SECRET_KEY": TEST_SECRET_KEY,
            "SLUICE_READ_BATCH_ROWS": "40",
        }
        for name in ("SLUICE_CRASH_AT", "SLUICE_PAUSE_AT", "SLUICE_EXECUTOR", "SLUICE_LAKE"):
            self.env.pop(name, None)
        self.workers: list[subprocess.Popen[str]] = []
        self.logs: list[Any] = []

    def queue(self, name: str) -> str:
        return f"{name}-{self.token}"

    def worker(self, *queues: str, **env: str) -> subprocess.Popen[str]:
        log = open(self.workdir / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
        self.logs.append(log)
        args = [arg for q in queues for arg in ("--queue", self.queue(q))]
        process = subprocess.Popen(
            [sys.executable, "-m", "sluice", "worker", *args],
            cwd=self.workdir,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.workers.append(process)
        self._wait(lambda: any(self.queue(queues[0]) in w["queues"] for w in self.serving()))
        return process

    def serving(self) -> list[dict[str, Any]]:
        shown = self.cli("workers", "--json")
        found: list[dict[str, Any]] = json.loads(shown.stdout or "[]")
        return found

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sluice", *args],
            cwd=self.workdir,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )

    def configure(self, *steps: tuple[str, ...]) -> None:
        """Each step as `sluice STEP`, all in one child process (one start-up, not one each)."""
        done = subprocess.run(
            [sys.executable, "-c", CONFIGURE, json.dumps(steps)],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr

    def start_run(self, table: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "sluice", "run", table, "--json"],
            cwd=self.workdir,
            env={**self.env, "SLUICE_EXECUTOR": "celery"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stage_logs(self, config_db: str) -> list[tuple[str, str, int]]:
        with psycopg.connect(config_db) as connection:
            rows = connection.execute(
                "SELECT stage_type, status, coalesce(rows_processed, 0) "
                "FROM pipeline_run_stage_logs ORDER BY id"
            ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    @staticmethod
    def _wait(done: Any, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.3)

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        for log in self.logs:
            log.close()


@pytest.fixture(params=sorted(BROKERS))
def cluster(request: pytest.FixtureRequest, pg_database: str, workdir: Path) -> Iterator[Cluster]:
    found = Cluster(workdir, pg_database, _reachable(request.param))
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def rabbitmq_cluster(pg_database: str, workdir: Path) -> Iterator[Cluster]:
    """On RabbitMQ, which hands a dead worker's unacknowledged task on as soon as its
    connection drops (Redis does after its visibility timeout: docs/workers.md)."""
    found = Cluster(workdir, pg_database, _reachable("rabbitmq"))
    try:
        yield found
    finally:
        found.stop()


def _configure(cluster: Cluster) -> None:
    """Chinook's Track through a template whose extract runs on queue `heavy`, the rest on
    `light`; the lake at an absolute path (shared by every worker on this machine)."""
    steps = [
        ("init", "--lake", str(cluster.workdir / "lake")),
        ("source", "add", "chinook", "--type", "sqlite", "--creds",
         json.dumps({"path": str(CHINOOK_SQLITE)})),
        ("destination", "add", "wh", "--type", "duckdb", "--creds",
         json.dumps({"path": str(cluster.workdir / "wh.duckdb")})),
    ]  # fmt: skip
    for order, stage in enumerate(STAGES, start=1):
        pool = cluster.queue("heavy" if stage == "extract" else "light")
        steps.append(
            ("stages", "add", "--pipeline", "routed", "--order", str(order), "--type", stage,
             "--name", stage, "--driver-container", pool)
        )  # fmt: skip
    steps.append(
        ("table", "add", "Track", "--source", "chinook", "--destination", "wh",
         "--primary-key", "TrackId", "--pipeline", "routed")
    )  # fmt: skip
    cluster.configure(*steps)


def _finished(run: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = run.communicate(timeout=180)
    assert run.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_stages_run_on_the_workers_of_their_queues(cluster: Cluster, pg_database: str) -> None:
    _configure(cluster)
    cluster.worker("light")
    run = cluster.start_run("Track")
    # Nobody serves `heavy`: the run waits at its extract, check_source done on `light`.
    cluster._wait(lambda: ("extract", "running", 0) in cluster.stage_logs(pg_database))
    time.sleep(2)
    assert run.poll() is None
    assert cluster.stage_logs(pg_database)[-1] == ("extract", "running", 0)
    cluster.worker("heavy")
    served = {q for w in cluster.serving() for q in w["queues"]}
    assert {cluster.queue("light"), cluster.queue("heavy")} <= served
    result = _finished(run)
    assert result["status"] == "success"
    assert [s["rows_processed"] for s in result["stages"]] == [0, 3503, 3503, 0, 3503, 3503]
    expected = sqlite_table(CHINOOK_SQLITE, "Track")
    assert same_rows(expected, duckdb_table(cluster.workdir / "wh.duckdb", "Track"), ["TrackId"])


def _killed_mid_stage(cluster: Cluster, queue: str, crash_at: str) -> dict[str, Any]:
    """Track's run, with the worker of `queue` killed (SIGKILL) at `crash_at`: first its stage
    process, then the worker itself; the broker hands the unacknowledged stage to a worker
    started afterwards. The run's result."""
    _configure(cluster)
    cluster.worker("light" if queue == "heavy" else "heavy")
    doomed = cluster.worker(queue, SLUICE_CRASH_AT=crash_at)
    run = cluster.start_run("Track")
    log = cluster.workdir / "worker-1.log"
    cluster._wait(lambda: "signal 9" in log.read_text())
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=30)
    cluster.worker(queue)
    return _finished(run)


def test_a_worker_killed_mid_extract_hands_the_stage_to_another(
    rabbitmq_cluster: Cluster, pg_database: str
) -> None:
    cluster = rabbitmq_cluster
    result = _killed_mid_stage(cluster, "heavy", "extract:between_batches")
    assert result["status"] == "success"
    assert [s["rows_processed"] for s in result["stages"]] == [0, 3503, 3503, 0, 3503, 3503]
    expected = sqlite_table(CHINOOK_SQLITE, "Track")
    assert same_rows(expected, duckdb_table(cluster.workdir / "wh.duckdb", "Track"), ["TrackId"])
    listed = json.loads(cluster.cli("lake", "ls", "Track", "--json").stdout)
    assert [(b["batch"], b["rows"]) for b in listed] == [(max(b["batch"] for b in listed), 3503)]


def test_a_worker_killed_mid_load_hands_the_stage_to_another(
    rabbitmq_cluster: Cluster, pg_database: str
) -> None:
    """The load's worker dies (SIGKILL) inside the sink's transaction: nothing of it commits,
    the broker hands the load to the next `light` worker, and the sink ends exact, once."""
    cluster = rabbitmq_cluster
    result = _killed_mid_stage(cluster, "light", "load:inside_transaction")
    assert result["status"] == "success"
    assert [s["rows_processed"] for s in result["stages"]] == [0, 3503, 3503, 0, 3503, 3503]
    expected = sqlite_table(CHINOOK_SQLITE, "Track")
    loaded = duckdb_table(cluster.workdir / "wh.duckdb", "Track")
    assert loaded.num_rows == 3503 and same_rows(expected, loaded, ["TrackId"])


def test_the_celery_executor_refuses_what_workers_cannot_share(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice("init", ok=True)
    monkeypatch.setenv("SLUICE_BROKER_URL", BROKERS["redis"][0])
    monkeypatch.setenv("SLUICE_EXECUTOR", "celery")
    sluice("source add c --type sqlite --creds", json.dumps({"path": str(CHINOOK_SQLITE)}), ok=True)
    sluice("destination add d --type duckdb --creds", json.dumps({"path": "wh.duckdb"}), ok=True)
    sluice("table add Genre --source c --destination d", ok=True)
    refused = sluice("run Genre", ok=False)
    assert "needs a PostgreSQL config database" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert "needs a PostgreSQL config database" in sluice("worker", ok=False).err
    monkeypatch.setenv("SLUICE_EXECUTOR", "threads")
    assert "names no executor" in sluice("run Genre", ok=False).err
    monkeypatch.setenv("SLUICE_EXECUTOR", "celery")
    monkeypatch.setenv("SLUICE_BROKER_URL", "http://nowhere")
    assert "SLUICE_BROKER_URL must name the Celery broker" in sluice("workers", ok=False).err


def test_the_scheduler_waits_for_runs_on_threads_while_workers_run_the_stages(
    cluster: Cluster, pg_database: str
) -> None:
    """With the celery executor a scheduled run gets no process of its own: every run of the
    pass is executed (waited for) by the scheduler's process, its stages by the workers."""
    _configure(cluster)
    cluster.configure(
        *(
            ("table", "add", table, "--source", "chinook", "--destination", "wh",
             "--primary-key", f"{table}Id", "--pipeline", "routed")
            for table in ("Genre", "MediaType")
        )
    )  # fmt: skip
    cluster.worker("light")
    cluster.worker("heavy")
    pids = []
    for _ in range(2):  # hop 1 of each table, then hop 2
        passed = cluster.cli(
            "scheduler", "--once", "--max-concurrent", "3", SLUICE_EXECUTOR="celery"
        )
        assert passed.returncode == 0, passed.stderr
        assert "started 3 run(s)" in passed.stdout
        with psycopg.connect(pg_database) as connection:
            runs = connection.execute(
                "SELECT status, worker_pid FROM pipeline_runs_master ORDER BY id"
            ).fetchall()
        assert [r[0] for r in runs[-3:]] == ["success"] * 3
        pids.append({r[1] for r in runs[-3:]})
    assert all(len(found) == 1 for found in pids)  # one process waited for a pass's runs
    for table in ("Genre", "MediaType", "Track"):
        loaded = duckdb_table(cluster.workdir / "wh.duckdb", table)
        assert same_rows(sqlite_table(CHINOOK_SQLITE, table), loaded, [f"{table}Id"])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def private_redis(workdir: Path) -> Iterator[tuple[str, Any]]:
    """A Redis server of this test's own (the machine's stays up for the others), with a way
    to restart it, as a broker restart is: without persistence, what it held is gone."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]  # fmt: skip
    server: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        server.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=workdir))
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)

    def restart() -> None:
        server[-1].kill()
        server[-1].wait()
        start()

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", restart
    finally:
        for process in server:
            process.kill()
            process.wait()


def test_a_broker_restart_mid_run_fails_the_run_instead_of_leaving_it_running(
    private_redis: tuple[str, Any], pg_database: str, workdir: Path
) -> None:
    broker, restart = private_redis
    cluster = Cluster(workdir, pg_database, broker)
    try:
        _configure(cluster)
        cluster.worker("light")
        # The extract stops (SIGSTOP) half-way, as a worker held up would; then the broker
        # restarts empty: the waiting run must end, and the stage, once it goes on, is fenced.
        paused = cluster.worker("heavy", SLUICE_PAUSE_AT="extract:between_batches")
        run = cluster.start_run("Track")
        stopped: list[int] = []

        def extract_stopped() -> bool:
            stopped[:] = [
                child
                for child in _children(paused.pid)
                if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
            ]
            return bool(stopped)

        cluster._wait(extract_stopped)
        restart()
        _out, err = run.communicate(timeout=120)
        assert run.returncode != 0
        assert "broker" in err, err
        for child in stopped:
            os.kill(child, signal.SIGCONT)  # it goes on, and publishes nothing
        statuses = [s for s in cluster.stage_logs(pg_database) if s[0] == "extract"]
        assert statuses and statuses[-1][1] == "failed"
        time.sleep(3)
        listed = json.loads(cluster.cli("lake", "ls", "Track", "--json").stdout or "[]")
        assert listed == []
        # The next run, on a worker that is not held up, is exact.
        os.killpg(paused.pid, signal.SIGKILL)
        paused.wait(timeout=30)
        cluster.worker("heavy")
        result = _finished(cluster.start_run("Track"))
        assert result["status"] == "success"
        expected = sqlite_table(CHINOOK_SQLITE, "Track")
        loaded = duckdb_table(cluster.workdir / "wh.duckdb", "Track")
        assert same_rows(expected, loaded, ["TrackId"])
    finally:
        cluster.stop()


PARTITIONED_ROWS = 30_000


def _configure_partitioned(cluster: Cluster, source_url: str) -> None:
    """A PostgreSQL table read in 4 ranges: extract on `heavy` (its ranges too), the rest on
    `light`."""
    with psycopg.connect(source_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE events (id integer PRIMARY KEY, kind text, at date)")
        connection.execute(
            "INSERT INTO events SELECT g, md5(g::text), '2024-01-01'::date + g %% 400 "
            "FROM generate_series(1, %s::int) g",
            (PARTITIONED_ROWS,),
        )
    _configure(cluster)
    steps = [
        ("source", "add", "pg", "--type", "postgres", "--creds", json.dumps({"url": source_url})),
        ("table", "add", "public.events", "--source", "pg", "--destination", "wh",
         "--primary-key", "id", "--pipeline", "routed", "--partitions", "4"),
    ]  # fmt: skip
    cluster.configure(*steps)


def _events(url: str) -> Any:
    import pyarrow as pa

    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT id, kind, at FROM events").fetchall()
    return pa.Table.from_pylist([{"id": r[0], "kind": r[1], "at": r[2]} for r in rows])


def _ranges_read(log: Path) -> list[int]:
    """Rows of each range a worker read (its log's `sluice.range ... succeeded` lines)."""
    found = []
    for line in log.read_text().splitlines():
        if "sluice.range[" in line and "succeeded" in line:
            answer = line.rsplit(":", 1)[1].strip()
            if answer.isdigit():
                found.append(int(answer))
    return found


def test_a_partitioned_extract_is_read_by_the_pool_s_workers(
    rabbitmq_cluster: Cluster, pg_database: str, pg_target: str
) -> None:
    """Two workers serve `heavy`: one runs the extract, which reads the ranges nobody took;
    the other reads ranges as tasks, in the extract's snapshot. One batch, exact."""
    cluster = rabbitmq_cluster
    _configure_partitioned(cluster, pg_target)
    cluster.worker("light")
    cluster.worker("heavy")
    cluster.worker("heavy")
    result = _finished(cluster.start_run("public.events"))
    assert result["status"] == "success"
    rows = PARTITIONED_ROWS
    assert [s["rows_processed"] for s in result["stages"]] == [0, rows, rows, 0, rows, rows]
    by_tasks = [n for i in (1, 2) for n in _ranges_read(cluster.workdir / f"worker-{i}.log")]
    assert by_tasks and all(n > 0 for n in by_tasks)  # the workers read some ranges as tasks
    assert sum(by_tasks) < rows  # and the extract the rest itself
    listed = json.loads(cluster.cli("lake", "ls", "public.events", "--json").stdout)
    assert [(b["rows"], b["files"]) for b in listed] == [(rows, 4)]
    loaded = duckdb_table(cluster.workdir / "wh.duckdb", "events")
    assert same_rows(_events(pg_target), loaded, ["id"])


def test_a_worker_killed_mid_range_leaves_the_next_attempt_exact(
    rabbitmq_cluster: Cluster, pg_database: str, pg_target: str
) -> None:
    """A `heavy` worker is killed (SIGKILL) at its first batch, whether it ran the extract (the
    broker hands the stage to the other worker) or one of its ranges (the extract gives the
    silent range up after LOST_AFTER_S and tries again); either way the run ends exact."""
    cluster = rabbitmq_cluster
    _configure_partitioned(cluster, pg_target)
    cluster.worker("light")
    cluster.worker("heavy")
    doomed = cluster.worker("heavy", SLUICE_CRASH_AT="extract:between_batches")
    run = cluster.start_run("public.events")
    log = cluster.workdir / "worker-2.log"
    cluster._wait(lambda: "signal 9" in log.read_text())
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=30)
    result = _finished(run)
    assert result["status"] == "success"
    assert result["stages"][1]["rows_processed"] == PARTITIONED_ROWS
    listed = json.loads(cluster.cli("lake", "ls", "public.events", "--json").stdout)
    assert [b["rows"] for b in listed] == [PARTITIONED_ROWS]
    loaded = duckdb_table(cluster.workdir / "wh.duckdb", "events")
    assert same_rows(_events(pg_target), loaded, ["id"])
