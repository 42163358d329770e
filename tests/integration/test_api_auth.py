"""Tokens and roles: 401 without a valid token, 403 for a viewer that tries to change anything;
tokens shown once and stored hashed; CORS off unless asked for; the OpenAPI document is valid."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from sluice.api import create_app
from tests.conftest import Sluice
from tests.integration.api_support import (
    CONFIG_DB,
    Api,
    chinook_fixture,
    held_api_fixture,
    held_fixture,
)

__all__ = ["chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures used here

READ = {"GET"}


def endpoints(api: Api) -> list[tuple[str, str]]:
    """Every operation the OpenAPI document lists (and the document), path parameters filled."""
    found = [("GET", "/openapi.json")]
    for path, operations in api.app.openapi()["paths"].items():
        filled = re.sub(r"\{(\w+)\}", lambda m: "1" if m[1] in ("run_id", "order") else "x", path)
        found += [(method.upper(), filled) for method in operations]
    return found


def test_every_endpoint_but_health_needs_a_token(held_api: Api) -> None:
    operations = endpoints(held_api)
    assert len(operations) >= 25
    for method, path in operations:
        anonymous = held_api.client.request(method, path)
        if path == "/health":
            assert anonymous.status_code == 200
            continue
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        for header in ("Bearer nonsense", "Basic dXNlcjpwYXNz", held_api.admin_token):
            wrong = held_api.client.request(method, path, headers={"Authorization": header})
            assert wrong.status_code == 401, (method, path, header)


def test_viewers_read_and_admins_change(held_api: Api) -> None:
    for method, path in endpoints(held_api):
        if path == "/health":
            continue
        as_viewer = held_api.call(method, path, token="viewer")
        if method in READ:
            assert as_viewer.status_code not in (401, 403), (method, path)
        else:
            assert as_viewer.status_code == 403, (method, path)
            assert "viewer token, which may only read" in as_viewer.json()["detail"]
        as_admin = held_api.call(method, path, token="admin")
        assert as_admin.status_code not in (401, 403), (method, path)


def test_a_revoked_token_is_refused_at_once(held_api: Api, chinook: Sluice) -> None:
    assert held_api.call("GET", "/api/tables", token="viewer").status_code == 200
    listed = chinook("token list --json", ok=True).json()
    viewer = next(t for t in listed if t["role"] == "viewer")
    assert viewer["last_used_at"] is not None
    chinook(f"token revoke {viewer['id']}", ok=True)
    refused = held_api.call("GET", "/api/tables", token="viewer")
    assert refused.status_code == 401
    assert "unknown or revoked" in refused.json()["detail"]
    assert held_api.call("GET", "/api/tables", token="admin").status_code == 200
    again = chinook(f"token revoke {viewer['id']}")
    assert again.code == 0  # revoking twice changes nothing
    assert chinook("token revoke 999").code == 4


def test_tokens_are_printed_once_and_stored_hashed(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    created = sluice("token create --role admin --name deploy")
    assert created.code == 0
    token = created.out.strip()
    assert created.out == token + "\n"  # alone on its line, nothing else on stdout
    assert re.fullmatch(r"sluice_[A-Za-z0-9_-]{43}", token)
    as_json = sluice("token create --role viewer --json", ok=True).json()
    assert as_json["token"].startswith("sluice_") and as_json["role"] == "viewer"
    listed = sluice("token list --json", ok=True).json()
    assert [(t["id"], t["name"], t["role"]) for t in listed] == [
        (1, "deploy", "admin"),
        (2, None, "viewer"),
    ]
    shown = sluice("token list", ok=True).out + sluice("token list --json", ok=True).out
    assert token not in shown and as_json["token"] not in shown
    raw = b"".join(p.read_bytes() for p in (workdir / CONFIG_DB).parent.glob("config.db*"))
    assert token.encode() not in raw and as_json["token"].encode() not in raw
    bad = sluice("token create --role owner")
    assert bad.code == 3 and "role 'owner' is unknown" in bad.err


def test_cors_is_off_unless_origins_are_given(held_api: Api) -> None:
    preflight = {
        "Origin": "https://dash.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    closed = held_api.client.options("/api/tables", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    app = create_app(held_api.services, cors_origins=["https://dash.example"])
    with TestClient(app) as client:
        opened = client.options("/api/tables", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "https://dash.example"
        other = client.options("/api/tables", headers={**preflight, "Origin": "https://evil"})
        assert "access-control-allow-origin" not in other.headers


def test_the_openapi_document_is_valid_and_needs_a_token(held_api: Api) -> None:
    assert held_api.call("GET", "/openapi.json", token="none").status_code == 401
    document = held_api.call("GET", "/openapi.json", token="viewer").json()
    validate(document)
    paths = document["paths"]
    for path in (
        "/api/sources",
        "/api/destinations/{name}",
        "/api/tables/{source_tablename}/runs",
        "/api/runs/{run_id}",
        "/api/stats",
        "/metrics",
        "/health",
    ):
        assert path in paths
    started = paths["/api/tables/{source_tablename}/runs"]["post"]
    assert set(started["responses"]) >= {"202", "401", "403", "404", "409", "422"}
    conflict = started["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert conflict.endswith("/ConflictBody")
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    # Every error is documented as {"detail": "..."}, FastAPI's list-shaped 422 nowhere.
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path != "/health":
                assert "401" in operation["responses"], (method, path)
                assert operation["security"] == [{"token": []}], (method, path)
    assert held_api.call("GET", "/docs", token="admin").status_code == 404  # no CDN-fed UI


@pytest.mark.parametrize("option", ["--port 0", "--port 70000"])
def test_serve_checks_its_options(sluice: Sluice, option: str) -> None:
    assert sluice(f"serve {option}").code == 2


def test_sluice_serve_answers_over_http(chinook: Sluice, workdir: Path) -> None:
    """The real command: uvicorn on a free loopback port, /health open, the rest behind tokens."""
    token = chinook("token create --role viewer", ok=True).out.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "sluice", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    assert json.load(answer)["status"] == "ok"
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "sluice serve did not answer"
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/tables", timeout=5)
        assert refused.value.code == 401
        refused.value.close()
        request = urllib.request.Request(
            f"{base}/api/tables", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert [t["source_tablename"] for t in json.load(answer)] == ["Genre"]
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so supervisors see why it stopped.
    assert server.returncode == -signal.SIGTERM
    assert b"Finished server process" in log
