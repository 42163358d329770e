"""`source add`, `destination add` and `table add/edit` check before they store.

A wrong port, a misspelled table or column, a folder that is not there: each is refused at
once in one line that names what is wrong, the names that look like it and `--no-check`,
and nothing is stored. `--no-check` (API: "check": false) stores it all offline. Real
SQLite (Chinook), real PostgreSQL, real DuckDB files.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from sluice.core.suggest import closest, did_you_mean
from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.integration.api_support import Api, chinook_fixture, held_api_fixture, held_fixture

__all__ = ["chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures used here

OFFLINE = "or add --no-check to store it unchecked"


def _listed(sluice: Sluice, what: str) -> list[str]:
    key = "source_tablename" if what == "table" else "name"
    return [row[key] for row in sluice(f"{what} list --json", ok=True).json()]


def test_suggestions_prefer_a_case_slip_then_spelling() -> None:
    assert closest("invoiceid", ["InvoiceId", "InvoiceDate", "Total"]) == ["InvoiceId"]
    assert closest("InvoiceDat", ["InvoiceId", "InvoiceDate", "Total"])[0] == "InvoiceDate"
    assert did_you_mean("Invoices", ["Invoice", "Album"]) == " (did you mean 'Invoice'?)"
    assert did_you_mean("zzz", ["Invoice", "Album"]) == ""


def test_a_source_that_does_not_answer_is_refused_and_not_stored(
    sluice: Sluice, workdir: Path
) -> None:
    sluice("init", ok=True)
    wrong_port = {"host": "127.0.0.1", "port": 1, "user": "postgres", "database": "postgres"}
    refused = sluice(f"source add pg --type postgres --creds '{json.dumps(wrong_port)}'")
    assert refused.code == 3
    message = refused.err.strip()
    assert message.startswith("error: source 'pg' did not answer: PostgreSQL cannot connect to ")
    assert "127.0.0.1:1/postgres" in message and OFFLINE in message
    assert len(message.splitlines()) == 1
    missing = workdir / "nope.sqlite"
    gone = sluice(f"source add lite --type sqlite --creds '{json.dumps({'path': str(missing)})}'")
    assert gone.code == 3 and f"{missing} does not exist" in gone.err
    # Something answered and said no: not "did not answer".
    assert gone.err.startswith("error: source 'lite' cannot be used: ")
    assert _listed(sluice, "source") == []

    stored = sluice(
        f"source add pg --type postgres --creds '{json.dumps(wrong_port)}'", "--no-check"
    )
    assert stored.code == 0 and "checked:" not in stored.err
    assert _listed(sluice, "source") == ["pg"]
    # Fixing the port is checked too, and says what answered.
    fixed = sluice("source edit pg --set port=5432")
    assert fixed.code == 0 and "checked: PostgreSQL" in fixed.err
    again = sluice("source edit pg --set port=2")
    assert again.code == 3 and "did not answer" in again.err
    assert sluice("source show pg --json", ok=True).json()["creds"]["port"] == 5432


def test_an_embedded_sink_is_not_created_by_the_check(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    no_folder = workdir / "missing" / "wh.duckdb"
    refused = sluice(
        f"destination add wh --type duckdb --creds '{json.dumps({'path': str(no_folder)})}'"
    )
    assert refused.code == 3
    assert (
        f"the folder '{no_folder.parent}' does not exist" in refused.err and OFFLINE in refused.err
    )
    assert _listed(sluice, "destination") == []
    target = workdir / "wh.duckdb"
    added = sluice(
        f"destination add wh --type duckdb --creds '{json.dumps({'path': str(target)})}'"
    )
    assert added.code == 0
    assert f"checked: {target} does not exist yet; the first load creates it" in added.err
    assert not target.exists()  # no stray empty warehouse from a mere check
    # Nor from `destination test`, which says the same; a folder gone since fails the test.
    tested = sluice("destination test wh", ok=True)
    assert f"{target} does not exist yet; the first load creates it" in tested.out
    assert not target.exists()
    gone = json.dumps({"path": str(no_folder)})
    sluice("destination add gone --no-check --type duckdb --creds", gone, ok=True)
    failed = sluice("destination test gone")
    assert failed.code == 3 and f"the folder '{no_folder.parent}' does not exist" in failed.err
    assert "then test again" in failed.err and not no_folder.parent.exists()


def _chinook(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    creds = json.dumps({"path": str(CHINOOK_SQLITE)})
    added = sluice(f"source add chinook --type sqlite --creds '{creds}'", ok=True)
    assert "checked: SQLite" in added.err and "11 table(s)" in added.err
    wh = json.dumps({"path": str(workdir / "wh.duckdb")})
    sluice(f"destination add wh --type duckdb --creds '{wh}'", ok=True)


def test_table_names_and_columns_are_checked_with_suggestions(
    sluice: Sluice, workdir: Path
) -> None:
    _chinook(sluice, workdir)
    misspelled = sluice("table add Invoices --source chinook --destination wh")
    assert misspelled.code == 3
    assert "table 'Invoices' does not exist in SQLite database" in misspelled.err
    assert "(did you mean 'Invoice' or 'InvoiceLine'?)" in misspelled.err
    assert OFFLINE in misspelled.err

    columns = sluice(
        "table add Invoice --source chinook --destination wh --load incremental "
        "--key InvoiceDat --primary-key invoiceid --null-key-fallback CustomerID"
    )
    assert columns.code == 3
    err = columns.err.strip()
    assert err.startswith("error: not a column of Invoice in 'chinook': ")
    assert "primary key (--primary-key) 'invoiceid' (did you mean 'InvoiceId'?)" in err
    assert "incremental key (--key) 'InvoiceDat' (did you mean 'InvoiceDate'" in err
    assert (
        "NULL-key fallback (--null-key-fallback) 'CustomerID' (did you mean 'CustomerId'?)" in err
    )
    assert "its columns: InvoiceId, CustomerId, InvoiceDate," in err
    assert _listed(sluice, "table") == []

    good = sluice(
        "table add Invoice --source chinook --destination wh --load incremental "
        "--key InvoiceDate --primary-key InvoiceId"
    )
    assert good.code == 0
    assert "checked: source table Invoice found in 'chinook' (9 columns)" in good.err
    assert "InvoiceId (primary key (--primary-key)), InvoiceDate (incremental key (--key))" in (
        good.err
    )
    assert "checked: destination 'wh'" in good.err

    # An edit checks the column it names; a hop 2 key is a lake column, i.e. a source column.
    sink_key = sluice("table edit Invoice --sink-load incremental --sink-key Totl")
    assert sink_key.code == 3 and "hop 2 key (--sink-key) 'Totl' (did you mean 'Total'?)" in (
        sink_key.err
    )
    assert (
        sluice("table show Invoice --json", ok=True).json()["dl_to_sink"]["incremental_key"] is None
    )
    sluice("table edit Invoice --sink-load incremental --sink-key Total", ok=True)
    # A change naming nothing to look at connects nowhere: it works with the source gone.
    sluice('source edit chinook --no-check --creds \'{"path": "/nonexistent/c.sqlite"}\'', ok=True)
    quiet = sluice("table edit Invoice --every 15m")
    assert quiet.code == 0 and "checked:" not in quiet.err
    refused = sluice("table edit Invoice --key InvoiceDate")
    assert refused.code == 3 and "/nonexistent/c.sqlite does not exist" in refused.err
    sluice("table edit Invoice --key InvoiceDate --no-check", ok=True)


def test_a_postgres_table_is_found_by_its_schema_with_suggestions(
    sluice: Sluice, workdir: Path, pg_database: str
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA sales")
        conn.execute("CREATE TABLE sales.orders (order_id int PRIMARY KEY, updated_at timestamptz)")
    sluice("init", ok=True)
    database = pg_database.rsplit("/", 1)[1]
    creds = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": database}
    sluice(f"source add pg --type postgres --creds '{json.dumps(creds)}'", ok=True)
    sluice(f"destination add pgd --type postgres --creds '{json.dumps(creds)}'", ok=True)
    wrong = sluice("table add sales.order --source pg --destination pgd --sink-table orders_copy")
    assert wrong.code == 3 and "(did you mean 'orders'?)" in wrong.err
    key = sluice(
        "table add sales.orders --source pg --destination pgd --sink-table orders_copy "
        "--load incremental --key updated"
    )
    assert key.code == 3 and "'updated' (did you mean 'updated_at'?)" in key.err
    ok = sluice(
        "table add sales.orders --source pg --destination pgd --sink-table orders_copy "
        "--load incremental --key updated_at"
    )
    assert ok.code == 0 and "checked: destination 'pgd': PostgreSQL" in ok.err


def test_the_api_checks_by_default_and_stores_unchecked_on_request(held_api: Api) -> None:
    missing = {"path": "/nonexistent/api.sqlite"}
    body = {"name": "lite", "type": "sqlite", "creds": missing}
    refused = held_api.call("POST", "/api/sources", json=body)
    assert refused.status_code == 422
    assert "/nonexistent/api.sqlite does not exist" in refused.json()["detail"]
    assert '"check": false' in refused.json()["detail"]
    assert held_api.call("GET", "/api/sources/lite").status_code == 404
    assert held_api.call("POST", "/api/sources", json={**body, "check": False}).status_code == 201

    table = {"source_tablename": "Invoices", "source": "chinook", "destination": "wh"}
    wrong = held_api.call("POST", "/api/tables", json=table)
    assert wrong.status_code == 422 and "did you mean 'Invoice'" in wrong.json()["detail"]
    fixed = held_api.call("POST", "/api/tables", json={**table, "source_tablename": "Invoice"})
    assert fixed.status_code == 201
    edit = held_api.call("PATCH", "/api/tables/Invoice", json={"key": "InvoiceDat"})
    assert edit.status_code == 422 and "did you mean 'InvoiceDate'" in edit.json()["detail"]
    every = held_api.call("PATCH", "/api/tables/Invoice", json={"every": "1h"})
    assert every.status_code == 200
    assert every.json()["source_to_dl"]["schedule_minutes"] == 60
