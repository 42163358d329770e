"""Config as code: `sluice apply FILE` (plan, dry run, prune, patterns expanded by discovery,
errors naming file, line and field), `sluice export` (secrets never in clear, a round trip
onto a fresh config database), `discover --yaml`, and the same through /api/config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.integration.api_support import Api, api_fixture, chinook_fixture

__all__ = ["api_fixture", "chinook_fixture"]  # fixtures used here

SECRET = "Cfg-Pl4nted-S3cret-5521"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _document(workdir: Path, tables: str, *, pipelines: str = "") -> str:
    return f"""
sources:
  chinook: {{type: sqlite, creds: {{path: "{CHINOOK_SQLITE}"}}}}
  crm:
    type: postgres
    creds: {{host: 127.0.0.1, port: 1, user: app, database: crm,
             password: {{env: CRM_PASSWORD}}}}
destinations:
  wh: {{type: duckdb, creds: {{path: "{workdir / "wh.duckdb"}"}}}}
{pipelines}
tables:
{tables}
"""


TABLES = """
  - source_tablename: Invoice
    source: chinook
    destination: wh
    primary_key: InvoiceId
    load: incremental
    key: InvoiceDate
    every: 15m
    fresh_within: 2h
  - match: "Playlist*"
    source: chinook
    destination: wh
    sink_load: full
"""


def test_a_document_is_planned_applied_and_applying_it_again_changes_nothing(
    sluice: Sluice, workdir: Path
) -> None:
    sluice("init", ok=True)
    file = _write(workdir / "sluice.yaml", _document(workdir, TABLES))
    dry = sluice(f"apply {file} --dry-run --json", ok=True).json()
    assert dry["applied"] is False
    assert dry["changes"] == {"add": 6, "change": 0, "remove": 0}
    steps = {(s["kind"], s["name"]): s for s in dry["steps"]}
    # The pattern found both Playlist tables, each with its key from the source's catalog.
    assert set(steps) == {
        ("source", "chinook"), ("source", "crm"), ("destination", "wh"),
        ("table", "Invoice"), ("table", "Playlist"), ("table", "PlaylistTrack"),
    }  # fmt: skip
    fields = {f["field"]: f["new"] for f in steps[("table", "PlaylistTrack")]["fields"]}
    assert fields["primary_key"] == "PlaylistId,TrackId"
    # The env reference is shown (and stored) as one, never resolved.
    crm = {f["field"]: f["new"] for f in steps[("source", "crm")]["fields"]}
    assert crm["creds.password"] == {"env": "CRM_PASSWORD"}
    assert sluice("table list --json", ok=True).json() == []  # a dry run changes nothing

    applied = sluice(f"apply {file}", ok=True)
    line = next(x for x in applied.out.splitlines() if x.startswith("+ table Invoice: "))
    for shown in ("load 'incremental'", "key 'InvoiceDate'", "every 15", "fresh_within '2h'"):
        assert shown in line, line
    assert "6 to add, 0 to change, 0 to remove: were applied" in applied.out
    invoice = sluice("table show Invoice --json", ok=True).json()
    assert invoice["source_to_dl"]["schedule_minutes"] == 15
    assert invoice["source_to_dl"]["fresh_within"] == "2h"
    assert sluice(f"apply {file}", ok=True).out.strip() == (
        "no changes: the config matches the document"
    )

    # An option left out goes back to its default; a table left out stays without --prune.
    changed = _write(
        workdir / "sluice.yaml",
        _document(
            workdir,
            TABLES.replace("    fresh_within: 2h\n", "").replace(
                '  - match: "Playlist*"', '  - match: "Playlist"'
            ),
        ),
    )
    plan = sluice(f"apply {changed} --dry-run", ok=True).out
    assert "~ table Invoice: fresh_within '2h' -> -" in plan
    assert "- table" not in plan
    pruned = sluice(f"apply {changed} --prune --json", ok=True).json()
    assert [(s["action"], s["name"]) for s in pruned["steps"]] == [
        ("change", "Invoice"), ("remove", "PlaylistTrack"),
    ]  # fmt: skip
    tables = [t["source_tablename"] for t in sluice("table list --json", ok=True).json()]
    assert tables == ["Invoice", "Playlist"]

    # A connection's type cannot change under its tables: refused before anything is applied.
    retyped = _write(workdir / "retyped.yaml", _document(workdir, TABLES).replace(
        "wh: {type: duckdb", "wh: {type: sqlite"))  # fmt: skip
    refused = sluice(f"apply {retyped}")
    assert refused.code != 0 and "retyped.yaml, line 9: destination 'wh' is used by" in refused.err


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tables:\n  - source_tablename: T\n    source: s\n    destination: d\n    colour: red\n",
         "sluice.yaml, line 5: tables.0.colour: is not a known field"),
        ("tables:\n  - source: s\n    destination: d\n",
         "sluice.yaml, line 2: tables.0: give either 'source_tablename' (one table) or 'match'"),
        ("sources:\n  s: {type: sqlite, creds: {path: x.db}}\ntables: [\n",
         "sluice.yaml, line 4: not valid YAML"),
        ("a: &x [1]\nb: *x\n", "sluice.yaml, line 2: YAML aliases (*name) are not accepted"),
        ("sources:\n  s:\n    type: sqlite\n    creds: {file: x.db}\n",
         "sluice.yaml, line 4: source creds for type 'sqlite' are invalid: field 'path' is "
         "required"),
        (f"sources:\n  s: {{type: sqlite, creds: {{path: {CHINOOK_SQLITE}}}}}\n"
         "tables:\n  - source_tablename: Genre\n    source: s\n    destination: nowhere\n",
         "sluice.yaml, line 4: table 'Genre': no destination named 'nowhere'"),
        (f"sources:\n  s: {{type: sqlite, creds: {{path: {CHINOOK_SQLITE}}}}}\n"
         "destinations:\n  d: {type: duckdb, creds: {path: /tmp/d.duckdb}}\n"
         "tables:\n  - source_tablename: Genre\n    source: s\n    destination: d\n"
         "    load: sometimes\n",
         "sluice.yaml, line 6: table 'Genre': load type 'sometimes'"),
    ],
)  # fmt: skip
def test_a_bad_document_is_refused_naming_file_line_and_field(
    sluice: Sluice, workdir: Path, text: str, error: str
) -> None:
    sluice("init", ok=True)
    file = _write(workdir / "sluice.yaml", text)
    failed = sluice(f"apply {file}")
    assert failed.code != 0
    assert error in failed.err, failed.err
    assert len(failed.err.strip().splitlines()) == 1
    assert sluice("source list --json", ok=True).json() == []  # nothing was applied


def test_export_hides_secrets_and_round_trips_onto_a_fresh_config_database(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice("init", ok=True)
    sluice(f"apply {_write(workdir / 'in.yaml', _document(workdir, TABLES))}", ok=True)
    shop = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "s"}
    sluice(f"source add shop --type postgres --no-check --creds '{json.dumps(shop)}'", ok=True)
    sluice("stages add --pipeline slim --order 1 --type check_source --name Look", ok=True)
    sluice(
        "table add orders --source shop --destination wh --no-check --pipeline slim "
        "--hop-order independent --schema-contract added=freeze --lookback 5m",
        ok=True,
    )
    sluice("table pause orders --hop dl_to_sink", ok=True)
    exported = sluice("export", ok=True).out
    assert SECRET not in exported
    assert "password: '***'" in exported and "env: CRM_PASSWORD" in exported
    file = _write(workdir / "exported.yaml", exported)
    # The same config database: nothing to change (a hidden secret keeps the stored one).
    assert "no changes" in sluice(f"apply {file}", ok=True).out

    # A fresh config database takes it once the hidden secret is given; then it is the same.
    monkeypatch.setenv("SLUICE_CONFIG_DB", str(workdir / "fresh.db"))
    sluice("init", ok=True)
    refused = sluice(f"apply {file}")
    assert "exported.yaml, line" in refused.err and "'password' is ***" in refused.err
    given = exported.replace("password: '***'", "password: {env: SHOP_PASSWORD}")
    sluice(f"apply {_write(workdir / 'given.yaml', given)}", ok=True)
    assert yaml.safe_load(sluice("export", ok=True).out) == yaml.safe_load(given)
    only = sluice("export --tables 'Play*'", ok=True).out
    assert "Playlist" in only and "orders" not in only and "shop" not in only


def test_discover_writes_entries_that_apply(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(
        f'destination add wh --type duckdb --creds \'{{"path": "{workdir / "wh.duckdb"}"}}\'',
        ok=True,
    )
    entries = sluice("discover chinook --yaml --destination wh", ok=True).out
    applied = sluice(f"apply {_write(workdir / 'found.yaml', entries)} --json", ok=True).json()
    assert applied["changes"]["add"] == 11
    sluice("run Genre", ok=True)


def test_the_api_plans_and_applies_for_admins_and_exports_for_all(api: Api, workdir: Path) -> None:
    document = _document(workdir, TABLES)
    body = {"document": document}
    assert api.call("POST", "/api/config/plan", token="viewer", json=body).status_code == 403
    assert api.call("POST", "/api/config/apply", token="viewer", json=body).status_code == 403
    assert api.call("GET", "/api/config/export", token="viewer").status_code == 200  # a read
    plan = api.call("POST", "/api/config/plan", json=body).json()
    # chinook and wh exist already as the document has them: crm and three tables are new.
    assert plan["applied"] is False and plan["changes"] == {"add": 4, "change": 0, "remove": 0}
    assert api.call("GET", "/api/tables/Invoice").status_code == 404
    done = api.call("POST", "/api/config/apply", json=body).json()
    assert done["applied"] is True and done["changes"] == plan["changes"]
    assert api.call("GET", "/api/tables/Invoice").status_code == 200
    again = api.call("POST", "/api/config/plan", json={**body, "prune": True}).json()
    assert [(s["action"], s["name"]) for s in again["steps"]] == [("remove", "Genre")]
    bad = api.call("POST", "/api/config/plan", json={"document": "tables: {x: 1}\n"})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("the document, line 1: tables: ")
    exported = api.call("GET", "/api/config/export", params={"tables": "Invoice"}).json()
    assert "source_tablename: Invoice" in exported["document"]
    assert os.environ.get("CRM_PASSWORD") is None  # nothing above needed the secret's value
