"""Config over the REST API: the CLI's operations, its validation messages, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.integration.api_support import Api, api_fixture, chinook_fixture

__all__ = ["api_fixture", "chinook_fixture"]  # fixtures used here

SECRET = "Api-Pl4nted-S3cret-9186"
PG_CREDS = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "shop"}
EXIT_TO_STATUS = {3: 422, 4: 404, 5: 409}

# The same wrong input through the CLI and the API: (CLI arguments, method, path, JSON body).
SAME_INPUT: list[tuple[str, str, str, dict[str, Any] | None]] = [
    (
        'source add bad/name --type sqlite --creds \'{"path": "x.db"}\'',
        "POST",
        "/api/sources",
        {"name": "bad/name", "type": "sqlite", "creds": {"path": "x.db"}},
    ),
    (
        "source add x --type oracle --creds '{}'",
        "POST",
        "/api/sources",
        {"name": "x", "type": "oracle", "creds": {}},
    ),
    (
        'source add x --type sqlite --creds \'{"file": "x.db"}\'',
        "POST",
        "/api/sources",
        {"name": "x", "type": "sqlite", "creds": {"file": "x.db"}},
    ),
    (
        f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'',
        "POST",
        "/api/sources",
        {"name": "chinook", "type": "sqlite", "creds": {"path": str(CHINOOK_SQLITE)}},
    ),
    (
        "destination add wh2 --type sqlite --creds '{}'",
        "POST",
        "/api/destinations",
        {"name": "wh2", "type": "sqlite", "creds": {}},
    ),
    ("source remove chinook", "DELETE", "/api/sources/chinook", None),
    ("source show nope", "GET", "/api/sources/nope", None),
    (
        "table add X --source chinook --destination wh --load sometimes",
        "POST",
        "/api/tables",
        {"source_tablename": "X", "source": "chinook", "destination": "wh", "load": "sometimes"},
    ),
    (
        "table add X --source chinook --destination wh --load incremental",
        "POST",
        "/api/tables",
        {"source_tablename": "X", "source": "chinook", "destination": "wh", "load": "incremental"},
    ),
    (
        "table add 'orders; DROP TABLE x' --source chinook --destination wh",
        "POST",
        "/api/tables",
        {"source_tablename": "orders; DROP TABLE x", "source": "chinook", "destination": "wh"},
    ),
    (
        "table add X --source nope --destination wh",
        "POST",
        "/api/tables",
        {"source_tablename": "X", "source": "nope", "destination": "wh"},
    ),
    (
        "table add Genre --source chinook --destination wh",
        "POST",
        "/api/tables",
        {"source_tablename": "Genre", "source": "chinook", "destination": "wh"},
    ),
    (
        "table add X --source chinook --destination wh --primary-key a,a",
        "POST",
        "/api/tables",
        {
            "source_tablename": "X",
            "source": "chinook",
            "destination": "wh",
            "primary_key": ["a", "a"],
        },
    ),
    (
        "table add archive.Genre --source chinook --destination wh",
        "POST",
        "/api/tables",
        {"source_tablename": "archive.Genre", "source": "chinook", "destination": "wh"},
    ),
    ("table edit Genre --every 0", "PATCH", "/api/tables/Genre", {"every": 0}),
    ("table edit Genre --pipeline nope", "PATCH", "/api/tables/Genre", {"pipeline": "nope"}),
    ("table edit Genre --lookback soon", "PATCH", "/api/tables/Genre", {"lookback": "soon"}),
    ("table edit Genre --zero-dates zero", "PATCH", "/api/tables/Genre", {"zero_dates": "zero"}),
    ("table edit Genre --nested xml", "PATCH", "/api/tables/Genre", {"nested": "xml"}),
    ("table edit Genre --key 'a;b'", "PATCH", "/api/tables/Genre", {"key": "a;b"}),
    ("table edit Genre --lake-keep-full 0", "PATCH", "/api/tables/Genre", {"lake_keep_full": 0}),
    ("table edit Nope --every 5", "PATCH", "/api/tables/Nope", {"every": 5}),
    ("table show Nope", "GET", "/api/tables/Nope", None),
    ("table pause Nope", "POST", "/api/tables/Nope/pause", None),
    ("table remove Nope", "DELETE", "/api/tables/Nope", None),
    (
        "stages add --pipeline p --order 0 --type extract --name N",
        "POST",
        "/api/stages",
        {"pipeline": "p", "order": 0, "type": "extract", "name": "N"},
    ),
    (
        "stages add --pipeline p --order 1 --type bogus --name N",
        "POST",
        "/api/stages",
        {"pipeline": "p", "order": 1, "type": "bogus", "name": "N"},
    ),
    (
        "stages add --pipeline default --order 1 --type extract --name N",
        "POST",
        "/api/stages",
        {"pipeline": "default", "order": 1, "type": "extract", "name": "N"},
    ),
    (
        "stages add --pipeline p --order 1 --type extract --name N --driver-container 'a b'",
        "POST",
        "/api/stages",
        {"pipeline": "p", "order": 1, "type": "extract", "name": "N", "driver_container": "a b"},
    ),
    ("stages list --pipeline nope", "GET", "/api/stages?pipeline=nope", None),
    ("run Nope", "POST", "/api/tables/Nope/runs", None),
    ("run Genre --pipeline nope", "POST", "/api/tables/Genre/runs", {"pipeline": "nope"}),
    ("runs show 999", "GET", "/api/runs/999", None),
]


@pytest.mark.parametrize(("command", "method", "path", "body"), SAME_INPUT)
def test_validation_messages_are_the_clis(
    api: Api, chinook: Sluice, command: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    cli = chinook(command)
    assert cli.code in EXIT_TO_STATUS, cli.err
    message = cli.err.strip().removeprefix("error:").strip()
    response = api.call(method, path, json=body)
    assert response.status_code == EXIT_TO_STATUS[cli.code]
    assert response.json()["detail"] == message


@pytest.mark.parametrize(
    ("placed", "options", "body"),
    [
        ("--destination wh --sink-table tracks", "--sink-table GENRE", {"sink_table": "GENRE"}),
        ("--destination spare --sink-table genre", "--destination wh", {"destination": "wh"}),
    ],
)
def test_a_sink_table_another_table_loads_into_is_refused_as_by_the_cli(
    api: Api, chinook: Sluice, workdir: Path, placed: str, options: str, body: dict[str, Any]
) -> None:
    spare = json.dumps({"path": str(workdir / "spare.duckdb")})
    chinook(f"destination add spare --type duckdb --creds '{spare}'", ok=True)
    chinook(f"table add Track --source chinook {placed}", ok=True)
    before = api.call("GET", "/api/tables/Track").json()
    cli = chinook(f"table edit Track {options}")
    assert cli.code == 5, cli.err
    response = api.call("PATCH", "/api/tables/Track", json=body)
    assert response.status_code == 409
    assert response.json()["detail"] == cli.err.strip().removeprefix("error:").strip()
    assert response.json()["detail"].startswith(
        "table 'Genre' loads into sink table 'Genre' of destination 'wh' already"
    )
    after = api.call("GET", "/api/tables/Track").json()
    for field in ("sink_tablename", "destination_name", "sink_type"):
        assert after[field] == before[field]
    fixed = api.call("PATCH", "/api/tables/Track", json={**body, "sink_table": "tracks2"})
    assert fixed.status_code == 200 and fixed.json()["sink_tablename"] == "tracks2"


def test_a_dangerous_table_name_is_refused_and_nothing_is_stored(api: Api) -> None:
    body = {"source_tablename": "orders; DROP TABLE x", "source": "chinook", "destination": "wh"}
    response = api.call("POST", "/api/tables", json=body)
    assert response.status_code == 422
    assert "may not contain ';'" in response.json()["detail"]
    assert [t["source_tablename"] for t in api.call("GET", "/api/tables").json()] == ["Genre"]


def test_sources_destinations_tables_and_stages_round_trip(api: Api, workdir: Path) -> None:
    source = {"name": "second", "type": "sqlite", "creds": {"path": str(CHINOOK_SQLITE)}}
    created = api.call("POST", "/api/sources", json=source)
    assert created.status_code == 201
    assert created.json()["creds"] == {"path": str(CHINOOK_SQLITE)}
    assert created.json()["id"][14] == "7"  # a UUID v7
    assert [s["name"] for s in api.call("GET", "/api/sources").json()] == ["chinook", "second"]
    tested = api.call("POST", "/api/sources/second/test").json()
    assert tested["ok"] is True and "11 table(s)" in tested["detail"]

    sink = {"name": "wh2", "type": "sqlite", "creds": {"path": str(workdir / "wh2.db")}}
    assert api.call("POST", "/api/destinations", json=sink).status_code == 201
    assert api.call("GET", "/api/destinations/wh2").json()["type"] == "sqlite"

    table = {
        "source_tablename": "Track",
        "source": "second",
        "destination": "wh2",
        "sink_table": "tracks",
        "load": "incremental",
        "key": "TrackId",
        "every": 15,
        "sink_load": "incremental",
        "sink_every": 30,
        "primary_key": ["TrackId"],
        "lookback": "100",
    }
    added = api.call("POST", "/api/tables", json=table)
    assert added.status_code == 201, added.text
    shown = api.call("GET", "/api/tables/Track").json()
    due = [shown[hop].pop("next_due_at") for hop in ("source_to_dl", "dl_to_sink")]
    assert all(due)  # never ran: due now
    expected = added.json()
    for hop in ("source_to_dl", "dl_to_sink"):
        expected[hop].pop("next_due_at")
    assert shown == expected
    assert shown["sink_tablename"] == "tracks" and shown["primary_key"] == ["TrackId"]
    assert shown["source_to_dl"]["load_type"] == "incremental"
    assert shown["source_to_dl"]["schedule_minutes"] == 15
    assert shown["dl_to_sink"]["schedule_minutes"] == 30
    assert shown["source_to_dl"]["state"] == "active"

    assert shown["zero_dates"] == "fail" and shown["nested"] == "struct"
    edited = api.call(
        "PATCH",
        "/api/tables/Track",
        json={"every": 5, "lookback": "", "zero_dates": "null", "nested": "json"},
    ).json()
    assert edited["source_to_dl"]["schedule_minutes"] == 5 and edited["lookback"] is None
    assert edited["zero_dates"] == "null" and edited["nested"] == "json"
    assert edited["dl_to_sink"]["schedule_minutes"] == 30  # not given: unchanged
    # The CLI sees what the API wrote: one shared config layer.
    cli = api.call("GET", "/api/tables").json()
    assert [t["source_tablename"] for t in cli] == ["Genre", "Track"]
    # Pages by name: the page after the last name of the one before.
    first = api.call("GET", "/api/tables?limit=1").json()
    assert [t["source_tablename"] for t in first] == ["Genre"]
    assert first[0] == cli[0] | {"source_to_dl": first[0]["source_to_dl"]} | {
        "dl_to_sink": first[0]["dl_to_sink"]
    }
    after = api.call("GET", "/api/tables?limit=1&after=Genre").json()
    assert [t["source_tablename"] for t in after] == ["Track"]
    assert api.call("GET", "/api/tables?limit=1&after=Track").json() == []
    assert api.call("GET", "/api/tables?limit=0").status_code == 422

    paused = api.call("POST", "/api/tables/Track/pause", json={"hop": "dl_to_sink"}).json()
    assert paused["source_to_dl"]["is_active"] is True
    assert paused["dl_to_sink"]["is_active"] is False and paused["dl_to_sink"]["state"] == "paused"
    assert paused["dl_to_sink"]["next_due_at"] is None
    paused = api.call("POST", "/api/tables/Track/pause").json()  # no body: both hops
    assert paused["source_to_dl"]["is_active"] is False
    resumed = api.call("POST", "/api/tables/Track/resume", json={"hop": "all"}).json()
    assert resumed["source_to_dl"]["is_active"] and resumed["dl_to_sink"]["is_active"]

    stage = {"pipeline": "quick", "order": 1, "type": "extract", "name": "Extract"}
    assert api.call("POST", "/api/stages", json=stage).status_code == 201
    listed = api.call("GET", "/api/stages?pipeline=quick").json()
    assert [(s["stage_order"], s["stage_type"]) for s in listed] == [(1, "extract")]
    assert len(api.call("GET", "/api/stages").json()) == 7
    assert api.call("DELETE", "/api/stages/quick/1").status_code == 204
    assert api.call("DELETE", "/api/stages/quick/1").status_code == 404

    assert api.call("DELETE", "/api/sources/second").status_code == 409  # Track uses it
    assert api.call("DELETE", "/api/tables/Track").status_code == 204
    assert api.call("DELETE", "/api/sources/second").status_code == 204
    assert api.call("GET", "/api/sources/second").status_code == 404


def test_request_bodies_are_checked_against_the_schema(api: Api) -> None:
    cases = [
        ({"source_tablename": "X", "source": "chinook"}, "body.destination: Field required"),
        (
            {"source_tablename": "X", "source": "chinook", "destination": "wh", "every": 1.5},
            "body.every.constrained-int: Input should be a valid integer",
        ),
        (
            {"source_tablename": "X", "source": "chinook", "destination": "wh", "colour": "red"},
            "body.colour: Extra inputs are not permitted",
        ),
    ]
    for body, message in cases:
        response = api.call("POST", "/api/tables", json=body)
        assert response.status_code == 422
        assert response.json()["detail"].startswith(message)
    response = api.call("POST", "/api/tables/Genre/runs", json={"hop": "sideways"})
    assert response.status_code == 422 and "body.hop" in response.json()["detail"]


def test_creds_are_never_returned(api: Api) -> None:
    """Plant a password, drive every endpoint that touches it, search every response body."""
    url_creds = {"url": f"postgresql://app:{SECRET}@127.0.0.1:1/shop"}
    source = {"name": "pg", "type": "postgres", "creds": PG_CREDS}
    destination = {"name": "pgd", "type": "postgres", "creds": url_creds}
    # Checked first: nothing answers there, and the refusal explains without the password.
    for path, checked in (("/api/sources", source), ("/api/destinations", destination)):
        refused = api.call("POST", path, json=checked)
        assert refused.status_code == 422 and "did not answer" in refused.json()["detail"]
        assert "127.0.0.1" in refused.json()["detail"]
    api.call("POST", "/api/sources", json={**source, "check": False})
    api.call("POST", "/api/destinations", json={**destination, "check": False})
    table = {"source_tablename": "orders", "source": "pg", "destination": "pgd", "check": False}
    assert api.call("POST", "/api/tables", json=table).status_code == 201
    # Wrong input carrying the secret must not echo it back either.
    api.call("POST", "/api/sources", json={"name": "pg", "type": "postgres", "creds": PG_CREDS})
    api.call("POST", "/api/sources", json={"name": "x", "type": "postgres", "creds": SECRET})
    api.call("POST", "/api/sources", json={"name": "y", "type": "postgres", "creds": [SECRET]})
    bad = {**PG_CREDS, "colour": SECRET}
    api.call("POST", "/api/sources", json={"name": "z", "type": "postgres", "creds": bad})
    api.call("POST", "/api/sources", json={"name": SECRET, "type": "sqlite", "creds": SECRET})
    for path in (
        "/api/sources",
        "/api/sources/pg",
        "/api/destinations",
        "/api/destinations/pgd",
        "/api/tables",
        "/api/tables/orders",
    ):
        assert api.call("GET", path).status_code == 200
    for path in ("/api/sources/pg/test", "/api/destinations/pgd/test"):
        tested = api.call("POST", path)
        assert tested.status_code == 200 and tested.json()["ok"] is False
        assert "127.0.0.1" in tested.json()["detail"]  # the failure is explained
    shown = api.call("GET", "/api/sources/pg").json()
    assert shown["creds"]["password"] == "***" and shown["creds"]["host"] == "127.0.0.1"
    assert api.call("GET", "/api/destinations/pgd").json()["creds"]["url"] == "***"
    for body in api.bodies:
        assert SECRET not in body
    assert len(api.bodies) > 15
    assert json.dumps(PG_CREDS) not in "".join(api.bodies)
