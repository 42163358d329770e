"""`sluice worker` and `sluice workers`: Celery workers for the stages of named queues (the
templates' driver_container), and which workers serve which queues."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from sluice.cli.output import console, emit_json, table
from sluice.cli.state import STATE

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def worker_command(
    queues: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            help="A queue to serve: the driver_container of the stages it runs (repeatable; "
            "default: default, the stages that name none).",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Stages this worker runs at once.")
    ] = 1,
) -> None:
    """Run a Celery worker for the stages of QUEUE (SLUICE_BROKER_URL names the broker)."""
    from sluice.executors.celery import broker_url, check_shared, make_app

    served = queues or ["default"]
    services = STATE.services()
    check_shared(services)
    app = make_app(broker_url())
    # The worker's processes open the config database themselves (fork-safe), by this URL.
    os.environ["SLUICE_CONFIG_DB"] = services.config_url
    STATE.close()
    name = "+".join(served)
    app.worker_main(
        [
            "worker",
            f"--queues={','.join(served)}",
            f"--concurrency={concurrency}",
            f"--hostname=sluice-{name}-{os.getpid()}@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def workers_command(as_json: JsonOpt = False) -> None:
    """List the running workers and the queues each serves."""
    from sluice.executors.celery import broker_url, make_app

    app = make_app(broker_url())
    answered = app.control.inspect(timeout=2.0).active_queues() or {}
    found = [
        {"worker": worker, "queues": sorted(q["name"] for q in served)}
        for worker, served in sorted(answered.items())
    ]
    if as_json:
        emit_json(found)
        return
    if not found:
        console.print("no worker answered (is one running, on this broker?)", highlight=False)
        return
    table("workers", ["worker", "queues"], [(w["worker"], ", ".join(w["queues"])) for w in found])
