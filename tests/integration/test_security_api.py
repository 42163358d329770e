"""The API under a hostile caller: token before body, body cap, exact paths, no caching, and a
/health that notices the config database is gone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Sluice
from tests.integration.api_support import (
    CONFIG_DB,
    Api,
    chinook_fixture,
    held_api_fixture,
    held_fixture,
)

__all__ = ["chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures used here


def test_a_body_without_a_token_is_refused_before_it_is_parsed(held_api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer sluice_nonsense"}):
        answer = held_api.client.post(
            "/api/tables",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.json()["detail"]


def test_a_body_over_the_cap_is_413(held_api: Api) -> None:
    big = b" " * 1_000_001
    answer = held_api.client.post("/api/tables", content=big, headers=held_api.admin)
    assert answer.status_code == 413
    assert answer.json()["detail"].startswith("the request body is larger than 1000000 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        for _ in range(20):
            yield b" " * 100_000

    streamed = held_api.client.post("/api/tables", content=chunks(), headers=held_api.admin)
    assert streamed.status_code == 413
    # Under the cap, a body reaches the route as before.
    fine = held_api.client.post("/api/tables", json={"nonsense": 1}, headers=held_api.admin)
    assert fine.status_code == 422


def test_paths_are_exact_and_answers_are_not_cached(held_api: Api) -> None:
    slash = held_api.client.get(
        "/api/tables/", headers={**held_api.admin, "Host": "evil.example"}, follow_redirects=False
    )
    assert slash.status_code == 404 and "location" not in slash.headers
    for path, token in (("/api/tables", "admin"), ("/api/tables", "none"), ("/health", "none")):
        answer = held_api.call("GET", path, token=token)
        assert answer.headers["cache-control"] == "no-store", path


def test_health_reports_a_config_database_that_is_gone(held_api: Api) -> None:
    assert held_api.client.get("/health").status_code == 200
    CONFIG_DB.unlink()
    answer = held_api.client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
    assert not CONFIG_DB.exists()  # asking did not create an empty one


# ---- a real uvicorn, spoken to over raw sockets ------------------------------------------------


@pytest.fixture
def server(chinook: Sluice, workdir: Path) -> Iterator[tuple[int, str, int]]:
    """`sluice serve` on a free port with a 10 kB cap: (port, admin token, server pid)."""
    token = chinook("token create --role admin", ok=True).out.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "sluice", "serve", "--port", str(port), "--max-body-bytes", "10000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        yield port, token, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def exchange(port: int, head: bytes, body: Iterable[bytes] = ()) -> tuple[int, str, int]:
    """Send a request head, then body chunks until the server answers or stops reading:
    (status, response text, bytes of body sent). 0 when nothing answers."""
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head)
            sock.settimeout(0.05)
            answer = b""
            for chunk in body:
                try:
                    answer = sock.recv(65536)
                    if answer:
                        break
                except TimeoutError:
                    pass
                try:
                    sock.sendall(chunk)
                except OSError:  # the server closed the connection
                    break
                sent += len(chunk)
            sock.settimeout(5)
            while not complete(answer):
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
    except OSError:
        return 0, "", sent
    text = answer.decode(errors="replace")
    return (int(text.split()[1]) if text.startswith("HTTP/") else 0), text, sent


def complete(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    lengths = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    return bool(found and lengths) and len(body) >= int(lengths[0].split(b":")[1])


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def megabytes(count: int) -> Iterator[bytes]:
    chunk = b"x" * 1_000_000
    for _ in range(count):
        yield chunk


def test_an_oversized_body_without_a_token_is_never_read(server: tuple[int, str, int]) -> None:
    port, token, pid = server
    before = rss_kb(pid)
    head = (
        b"POST /api/tables HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000000\r\n\r\n"
    )
    status, text, sent = exchange(port, head, megabytes(300))
    assert status == 401 and "token is required" in text
    assert sent < 50_000_000  # answered long before the 300 MB were through
    chunked = b"POST /api/tables HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (1_000_000, b"x" * 1_000_000)
    status, _, sent = exchange(port, chunked, iter([chunk] * 300))
    assert status == 401 and sent < 50_000_000
    # With a token, the configured cap (10 kB) holds: declared or streamed.
    auth = f"Authorization: Bearer {token}\r\n".encode()
    declared = head.replace(b"Host: x\r\n", b"Host: x\r\n" + auth)
    status, text, _ = exchange(port, declared, megabytes(300))
    assert status == 413 and "larger than 10000 bytes" in text
    status, _, sent = exchange(
        port, chunked.replace(b"Host: x\r\n", b"Host: x\r\n" + auth), iter([chunk] * 300)
    )
    assert status == 413 and sent < 50_000_000
    assert rss_kb(pid) - before < 50_000  # kB: the server held none of it
    ok = f"GET /api/tables HTTP/1.1\r\nHost: x\r\n{auth.decode()}\r\n".encode()
    status, text, _ = exchange(port, ok)
    assert status == 200 and json.loads(text.split("\r\n\r\n", 1)[1])[0]["source_tablename"]


@pytest.mark.postgres
def test_health_reports_a_postgresql_config_database_that_is_gone(
    sluice: Sluice, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from fastapi.testclient import TestClient

    from sluice.api import create_app
    from sluice.engine.services import Services
    from tests.services import PG_ADMIN_URL

    monkeypatch.setenv("SLUICE_CONFIG_DB", pg_database)
    sluice("init", ok=True)
    services = Services.open(None)
    try:
        with TestClient(create_app(services)) as client:
            assert client.get("/health").json()["status"] == "ok"
            name = pg_database.rsplit("/", 1)[1]
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            answer = client.get("/health")
            assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
    finally:
        services.close()
