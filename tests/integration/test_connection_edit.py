"""Editing a source or destination: new creds checked as `add` checks them, sealed, never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Sluice
from tests.integration.api_support import Api, api_fixture, chinook_fixture

__all__ = ["api_fixture", "chinook_fixture"]  # fixtures used here

SECRET = "Ed1t-Pl4nted-S3cret-5820"
EXIT_TO_STATUS = {3: 422, 4: 404, 5: 409}


def _pg_creds(pg_database: str, port: int) -> dict[str, Any]:
    """host/port creds for the throwaway database (trust auth: the password is never asked)."""
    database = urlsplit(pg_database).path.lstrip("/")
    return {
        "host": "127.0.0.1",
        "port": port,
        "user": "postgres",
        "password": SECRET,
        "database": database,
    }


def _config_bytes(workdir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (workdir / "databases/config_db/data").glob("*"))


@pytest.mark.postgres
def test_a_rotated_port_and_password_reach_the_server_through_the_cli(
    sluice: Sluice, workdir: Path, pg_database: str
) -> None:
    sluice("init", ok=True)
    creds = json.dumps(_pg_creds(pg_database, port=1))
    added = sluice(f"source add pg --type postgres --creds '{creds}' --json --no-check", ok=True)
    added = added.json()
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    sluice("table add orders --source pg --destination wh --no-check", ok=True)
    before = sluice("source test pg")
    assert before.code == 1 and "127.0.0.1:1/" in before.err

    edited = sluice(f"source edit pg --set port=5432 --set password={SECRET}2 --json", ok=True)
    shown = edited.json()
    assert shown["creds"]["port"] == 5432  # stored as a number, as JSON creds would be
    assert shown["creds"]["password"] == "***"
    assert (shown["id"], shown["created_at"]) == (added["id"], added["created_at"])
    tested = sluice("source test pg --json", ok=True).json()
    assert tested["ok"] is True and "PostgreSQL" in tested["detail"]
    assert "127.0.0.1:5432/" in tested["detail"]

    # The whole object replaced: another style of creds, the old fields gone.
    url = {"url": f"postgresql://postgres:{SECRET}@127.0.0.1:5432/{urlsplit(pg_database).path[1:]}"}
    replaced = sluice(f"source edit pg --creds '{json.dumps(url)}' --json", ok=True).json()
    assert replaced["creds"] == {"url": "***"}
    human = sluice(f"source edit pg --creds '{json.dumps(url)}'", ok=True)
    assert f"source pg updated (postgres, id {added['id']})" in human.out
    assert sluice("source test pg", ok=True).out.startswith("ok source pg: PostgreSQL")
    assert sluice("table show orders --json", ok=True).json()["source_name"] == "pg"

    outputs = [before, edited, human, sluice("source show pg"), sluice("source list --json")]
    for result in outputs:
        assert SECRET not in result.out + result.err
    assert SECRET.encode() not in _config_bytes(workdir)


@pytest.mark.parametrize(
    "creds",
    [
        "'{bad'",
        "'[1, 2]'",
        "@missing.json",
        f'\'{{"host": "h", "user": "u", "database": "d", "colour": "{SECRET}"}}\'',
        f'\'{{"host": "h", "user": "u", "database": "d", "port": "{SECRET}"}}\'',
        f'\'{{"url": "mysql://u:{SECRET}@h/d"}}\'',
        '\'{"host": "h", "database": "d"}\'',
    ],
)
def test_bad_creds_are_refused_with_the_add_message_and_nothing_changes(
    sluice: Sluice, workdir: Path, creds: str
) -> None:
    sluice("init", ok=True)
    good = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "d"}
    sluice(f"source add pg --type postgres --creds '{json.dumps(good)}' --no-check", ok=True)
    stored = sluice("source show pg --json", ok=True).json()

    added = sluice(f"source add other --type postgres --creds {creds}")
    edited = sluice(f"source edit pg --creds {creds}")

    assert edited.code == added.code == 3
    assert edited.err == added.err and edited.err.startswith("error:")
    assert SECRET not in edited.err + edited.out
    assert sluice("source show pg --json", ok=True).json() == stored
    assert sluice("source list --json", ok=True).json() == [stored]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("", "nothing to change in source 'chinook': give --creds JSON, --set FIELD=VALUE"),
        (
            f"--set {SECRET}",
            "--set takes FIELD=VALUE, one field of the creds such as "
            "password=...; an argument without '=' was given",
        ),
        (
            f"--set ={SECRET}",
            "--set takes FIELD=VALUE, one field of the creds such as "
            "password=...; an argument without a field name before '=' was given",
        ),
        (
            "--set path=@missing.txt",
            "cannot read the value of --set path from the file named after '@': No such file "
            "or directory; for a value that starts with '@', write '@@'",
        ),
        (f"--set colour={SECRET}", "field 'colour' is not known"),
        ("--set path=", "field 'path': Value error, must name a file"),
        ("--type duckdb", "unknown source type 'duckdb': available source types are"),
    ],
)
def test_edit_refusals_name_the_problem_and_never_the_value(
    configured: Sluice, options: str, message: str
) -> None:
    result = configured(f"source edit chinook {options}")
    assert result.code == 3, result.err
    assert message in result.err
    assert SECRET not in result.err + result.out


def test_a_type_changes_only_while_no_table_uses_the_connection(
    configured: Sluice, workdir: Path
) -> None:
    refused = configured("destination edit wh --type sqlite")
    assert refused.code == 5
    assert (
        "destination 'wh' is used by table(s) Genre, so its type cannot change from duckdb to "
        "sqlite: re-point those tables to another destination first" in refused.err
    )
    assert configured("destination show wh --json", ok=True).json()["type"] == "duckdb"
    # The same type named again is no change of type.
    configured(f"destination edit wh --type duckdb --set path={workdir / 'wh.duckdb'}", ok=True)

    configured('destination add spare --type duckdb --creds \'{"path": "spare.duckdb"}\'', ok=True)
    moved = configured("destination edit spare --type sqlite --json", ok=True).json()
    # Stored absolute at add (a relative path would follow whoever runs).
    assert moved["type"] == "sqlite" and moved["creds"] == {"path": str(workdir / "spare.duckdb")}
    configured("table edit Genre --destination spare", ok=True)
    assert configured("table show Genre --json", ok=True).json()["sink_type"] == "sqlite"
    configured("run Genre", ok=True)
    assert (workdir / "spare.duckdb").is_file()  # a SQLite file, whatever its name says
    assert configured("destination test spare", ok=True).out.startswith("ok destination spare")


def test_a_type_change_of_a_used_connection_says_so_before_checking_creds(
    configured: Sluice,
) -> None:
    creds = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "d"}
    configured(
        f"destination add pg --type postgres --creds '{json.dumps(creds)}' --no-check", ok=True
    )
    configured("table add Track --source chinook --destination pg --no-check", ok=True)
    stored = configured("destination show pg --json", ok=True).json()

    refused = configured("destination edit pg --type sqlite")
    assert refused.code == 5
    assert refused.err.strip() == (
        "error: destination 'pg' is used by table(s) Track, so its type cannot change from "
        "postgres to sqlite: re-point those tables to another destination first, or add a new "
        "destination"
    )
    # New creds that fit the new type change nothing either.
    with_creds = configured('destination edit pg --type sqlite --creds \'{"path": "x.db"}\'')
    assert (with_creds.code, with_creds.err) == (refused.code, refused.err)
    # An unknown type is still named as such, used or not.
    unknown = configured("destination edit pg --type oracle")
    assert unknown.code == 3 and "unknown destination type 'oracle'" in unknown.err
    assert configured("destination show pg --json", ok=True).json() == stored
    assert SECRET not in refused.err + with_creds.err + unknown.err


def _stored_creds(kind: str, name: str) -> dict[str, Any]:
    """The creds as sluice decrypts them for a connector (never shown by any command)."""
    from sluice.config.repository import DESTINATIONS, SOURCES
    from sluice.engine.services import Services

    services = Services.open(None)
    try:
        record = services.repo.get_connection(SOURCES if kind == "source" else DESTINATIONS, name)
    finally:
        services.close()
    return record.creds


def test_set_reads_a_value_from_a_file_so_the_secret_is_not_in_argv(
    sluice: Sluice, workdir: Path
) -> None:
    sluice("init", ok=True)
    creds = {"host": "127.0.0.1", "port": 1, "user": "app", "password": "old", "database": "d"}
    sluice(f"source add pg --type postgres --creds '{json.dumps(creds)}' --no-check", ok=True)
    secret_file = workdir / "password.txt"
    secret_file.write_text(f"{SECRET}\n")  # as `echo` writes it
    port_file = workdir / "port.txt"
    port_file.write_text("5433")

    edited = sluice(
        f"source edit pg --set password=@{secret_file} --set port=@{port_file} --json --no-check"
    )
    assert edited.code == 0, edited.err
    assert edited.json()["creds"]["password"] == "***"
    assert edited.json()["creds"]["port"] == 5433
    assert _stored_creds("source", "pg") == {**creds, "password": SECRET, "port": 5433}

    # A byte-order mark some editors write is not part of the value.
    secret_file.write_bytes(b"\xef\xbb\xbf" + SECRET.encode() + b"\n")
    sluice(f"source edit pg --set password=@{secret_file} --no-check", ok=True)
    assert _stored_creds("source", "pg")["password"] == SECRET

    # A second line break is part of the value: only the one `echo` adds is dropped.
    secret_file.write_text(f"{SECRET}\n\n")
    sluice(f"source edit pg --set password=@{secret_file} --no-check", ok=True)
    assert _stored_creds("source", "pg")["password"] == f"{SECRET}\n"

    # @@ stands for a literal '@': a password may begin with one.
    sluice(f"source edit pg --set 'password=@@{SECRET}' --no-check", ok=True)
    assert _stored_creds("source", "pg")["password"] == f"@{SECRET}"

    # A password that starts with '@', given without '@@', is not echoed as a file name.
    missing = sluice(f"source edit pg --set 'password=@{SECRET}'")
    assert missing.code == 3
    assert missing.err.strip() == (
        "error: cannot read the value of --set password from the file named after '@': "
        "No such file or directory; for a value that starts with '@', write '@@'"
    )
    assert _stored_creds("source", "pg")["password"] == f"@{SECRET}"
    for result in (edited, missing, sluice("source show pg"), sluice("source list --json")):
        assert SECRET not in result.out + result.err
    assert SECRET.encode() not in _config_bytes(workdir)


def test_edit_of_a_missing_connection_is_not_found(configured: Sluice) -> None:
    result = configured("destination edit nope --set path=x.db")
    assert result.code == 4
    assert "no destination named 'nope': see `sluice destination list`" in result.err


# ---- the same through the REST API -----------------------------------------------------------
@pytest.mark.postgres
def test_api_patch_rotates_creds_and_the_test_reaches_the_server(
    api: Api, workdir: Path, pg_database: str
) -> None:
    body = {"name": "pg", "type": "postgres", "creds": _pg_creds(pg_database, port=1)}
    refused = api.call("POST", "/api/sources", json=body)
    assert refused.status_code == 422 and "127.0.0.1:1/" in refused.json()["detail"]
    created = api.call("POST", "/api/sources", json={**body, "check": False}).json()
    failed = api.call("POST", "/api/sources/pg/test").json()
    assert failed["ok"] is False and "127.0.0.1:1/" in failed["detail"]

    edited = api.call("PATCH", "/api/sources/pg", json={"set": {"port": 5432}})
    assert edited.status_code == 200
    assert edited.json()["creds"]["port"] == 5432 and edited.json()["creds"]["password"] == "***"
    assert edited.json()["id"] == created["id"]
    tested = api.call("POST", "/api/sources/pg/test").json()
    assert tested["ok"] is True and "127.0.0.1:5432/" in tested["detail"]

    wrong = {"creds": {**_pg_creds(pg_database, 5432), "port": 1}}
    assert api.call("PATCH", "/api/sources/pg", json=wrong).status_code == 422
    assert api.call("POST", "/api/sources/pg/test").json()["ok"] is True  # nothing changed
    replaced = api.call("PATCH", "/api/sources/pg", json={**wrong, "check": False})
    assert replaced.status_code == 200 and replaced.json()["creds"]["port"] == 1
    assert api.call("POST", "/api/sources/pg/test").json()["ok"] is False

    for text in api.bodies:
        assert SECRET not in text
    assert SECRET.encode() not in _config_bytes(workdir)


# (CLI options, PATCH body): the same wrong edit both ways.
SAME_EDIT: list[tuple[str, str, dict[str, Any]]] = [
    ("source edit chinook", "/api/sources/chinook", {}),
    ("source edit chinook", "/api/sources/chinook", {"set": {}}),
    ("source edit chinook --set colour=x", "/api/sources/chinook", {"set": {"colour": "x"}}),
    ("source edit chinook --creds '{}'", "/api/sources/chinook", {"creds": {}}),
    (
        f'source edit chinook --creds \'{{"file": "{SECRET}"}}\'',
        "/api/sources/chinook",
        {"creds": {"file": SECRET}},
    ),
    ("source edit chinook --type oracle", "/api/sources/chinook", {"type": "oracle"}),
    ("destination edit wh --type sqlite", "/api/destinations/wh", {"type": "sqlite"}),
    ("destination edit pg --type sqlite", "/api/destinations/pg", {"type": "sqlite"}),
    ("source edit nope --set path=x.db", "/api/sources/nope", {"set": {"path": "x.db"}}),
]


@pytest.mark.parametrize(("command", "path", "body"), SAME_EDIT)
def test_api_edit_messages_are_the_clis(
    api: Api, chinook: Sluice, command: str, path: str, body: dict[str, Any]
) -> None:
    # A PostgreSQL destination in use, whose creds do not fit a SQLite destination.
    pg = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "d"}
    chinook(f"destination add pg --type postgres --creds '{json.dumps(pg)}' --no-check", ok=True)
    chinook("table add Track --source chinook --destination pg --no-check", ok=True)
    cli = chinook(command)
    assert cli.code in EXIT_TO_STATUS, cli.err
    response = api.call("PATCH", path, json=body)
    assert response.status_code == EXIT_TO_STATUS[cli.code]
    assert response.json()["detail"] == cli.err.strip().removeprefix("error:").strip()
    assert SECRET not in response.text + cli.err


def test_api_edit_needs_an_admin_token_and_a_known_body(api: Api) -> None:
    body = {"set": {"path": "elsewhere.db"}}
    assert api.call("PATCH", "/api/sources/chinook", json=body, token="viewer").status_code == 403
    assert api.call("PATCH", "/api/sources/chinook", json=body, token="none").status_code == 401
    typo = api.call("PATCH", "/api/sources/chinook", json={"cred": {"path": "x.db"}})
    assert typo.status_code == 422 and "body.cred: Extra inputs" in typo.json()["detail"]
    shown = api.call("GET", "/api/sources/chinook").json()
    assert shown["creds"]["path"].endswith("Chinook_Sqlite.sqlite")
