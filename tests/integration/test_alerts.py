"""Alerts end to end: a local HTTP receiver stands for Slack & co. (Apprise's json:// posts
the notification as JSON); each change of a hop's state is announced once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Sluice
from tests.integration.api_support import chinook_fixture, insert_run

__all__ = ["chinook_fixture"]

OK = (("extract", "success", 10, 1.0), ("load", "success", 10, 1.0))
FAILED = (("extract", "failed", 0, 1.0),)


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.refuse = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if owner.refuse:
                    self.send_response(503)
                else:
                    owner.posts.append({"path": self.path, **json.loads(body)})
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self) -> list[str]:
        titles = [str(p["title"]) for p in self.posts]
        self.posts.clear()
        return titles


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_failure_staleness_and_recovery_are_each_announced_once(
    chinook: Sluice, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_PUBLIC_URL", "https://sluice.example.com")
    secret_path = "hooks/T0KEN-7q"
    chinook(f"alerts add team json://127.0.0.1:{receiver.port}/{secret_path}", ok=True)
    # A target for some tables only: it hears nothing of Genre.
    url = f"json://127.0.0.1:{receiver.port}/sales"
    chinook(f"alerts add sales {url} --tables 'sales.*, Invoice'", ok=True)
    listed = chinook("alerts list --json", ok=True).json()
    assert listed == [
        {"name": "sales", "url": "json://127.0.0.1/***", "tables": ["sales.*", "Invoice"]},
        {"name": "team", "url": "json://127.0.0.1/***", "tables": None},
    ]
    chinook("alerts test team", ok=True)
    assert receiver.titles() == ["sluice: test alert"]
    chinook("table edit Genre --every 30m --sink-every 30m", ok=True)

    # Healthy from the start: nothing to say.
    insert_run(table="Genre", status="success", started=datetime.now(UTC), stages=OK)
    assert chinook("alerts check --json", ok=True).json() == []

    # A failed run: announced once, with the run's link; a second look says nothing more.
    failed = insert_run(table="Genre", status="failed", started=datetime.now(UTC), stages=FAILED)
    import sqlite3

    from tests.integration.api_support import CONFIG_DB

    with sqlite3.connect(CONFIG_DB) as c:  # what the engine writes when a run fails
        c.execute(
            "UPDATE pipeline_runs_master SET error_message = 'extract: source refused' "
            "WHERE id = ?",
            (failed,),
        )
        c.execute(
            "UPDATE pipeline_config SET source_to_dl_last_loader_run_status = 'failed', "
            "dl_to_sink_last_loader_run_status = 'failed' WHERE source_tablename = 'Genre'"
        )
    chinook("alerts check", ok=True)
    posts = list(receiver.posts)
    assert [p["title"] for p in posts] == ["sluice: Genre source_to_dl failed"]
    assert posts[0]["path"] == f"/{secret_path}"
    assert f"Run {failed} failed: extract: source refused" in posts[0]["message"]
    assert f"https://sluice.example.com/ui/runs/{failed}" in posts[0]["message"]
    receiver.titles()
    assert chinook("alerts check --json", ok=True).json() == []

    # Recovered: announced once.
    insert_run(table="Genre", status="success", started=datetime.now(UTC), stages=OK)
    with sqlite3.connect(CONFIG_DB) as c:
        c.execute(
            "UPDATE pipeline_config SET source_to_dl_last_loader_run_status = 'success', "
            "dl_to_sink_last_loader_run_status = 'success' WHERE source_tablename = 'Genre'"
        )
    chinook("alerts check", ok=True)
    assert receiver.titles() == ["sluice: Genre source_to_dl recovered"]

    # Stale (a 10-minute target, last success 20 minutes ago) while the receiver is down: not
    # recorded, so the next look, with the receiver back, announces it.
    chinook("table edit Genre --fresh-within 10m", ok=True)
    with sqlite3.connect(CONFIG_DB) as c:
        c.execute(
            "UPDATE pipeline_runs_master SET completed_at = ? WHERE source_tablename = 'Genre'",
            ((datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),),
        )
    receiver.refuse = True
    assert chinook("alerts check --json", ok=True).json() == []
    receiver.refuse = False
    sent = chinook("alerts check --json", ok=True).json()
    assert [(a["hop"], a["state"]) for a in sent] == [("source_to_dl", "stale")]
    assert receiver.titles() == ["sluice: Genre source_to_dl is stale"]
    assert chinook("alerts check --json", ok=True).json() == []

    shown = chinook("alerts list", ok=True).out + chinook("table show Genre", ok=True).out
    assert "T0KEN" not in shown

    # A failure of Invoice goes to both targets.
    chinook("table add Invoice --source chinook --destination wh --no-check", ok=True)
    with sqlite3.connect(CONFIG_DB) as c:
        c.execute(
            "UPDATE pipeline_config SET source_to_dl_last_loader_run_status = 'failed' "
            "WHERE source_tablename = 'Invoice'"
        )
    insert_run(table="Invoice", status="failed", started=datetime.now(UTC), stages=FAILED)
    chinook("alerts check", ok=True)
    assert sorted(p["path"] for p in receiver.posts) == ["/hooks/T0KEN-7q", "/sales"]

    # A removed table's announced states go with it.
    chinook("table remove Invoice", ok=True)
    with sqlite3.connect(CONFIG_DB) as c:
        left = c.execute(
            "SELECT count(*) FROM sluice_alert_states WHERE source_tablename = 'Invoice'"
        ).fetchone()[0]
    assert left == 0


def test_a_url_apprise_does_not_take_is_refused_with_the_fix(chinook: Sluice) -> None:
    refused = chinook("alerts add team not-a-url")
    assert refused.code != 0 and "Apprise does not take that URL" in refused.err
    assert chinook("alerts list --json", ok=True).json() == []
