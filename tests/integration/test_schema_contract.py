"""Schema drift by contract: each kind of source column change, under each setting.

Real PostgreSQL as source and sink, the real CLI. What the contract refuses fails hop 1 before
a batch is published, naming the column and both fixes; what it applies is a warning in the
stage log (`runs show`), in `sluice status`, and does what it says in the sink.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from sluice.core.errors import ConfigError
from sluice.core.schema_contract import describe_contract, merge_contract, parse_contract
from tests.conftest import Sluice

ROWS = 300


@pytest.fixture
def acct(sluice: Sluice, pg_database: str, pg_target: str) -> tuple[Sluice, str, str]:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE acct (id int PRIMARY KEY, amount int, note text, "
            "updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO acct SELECT g, g, 'n' || g, "
            "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' "
            f"FROM generate_series(1, {ROWS}) g"
        )
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    sluice(
        f"destination add dst --type postgres --creds '{json.dumps({'url': pg_target})}'", ok=True
    )
    sluice(
        "table add acct --source src --destination dst --load incremental --key updated_at "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    sluice("run acct", ok=True)
    return sluice, pg_database, pg_target


def execute(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def columns(url: str) -> dict[str, str]:
    rows = fetch(
        url,
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
        "'acct'::regclass AND attnum > 0 AND NOT attisdropped",
    )
    return {str(name): str(kind) for name, kind in rows}


def touch(url: str, ids: str = "id <= 3") -> None:
    execute(url, f"UPDATE acct SET updated_at = updated_at + interval '1 day' WHERE {ids}")


def extract_warnings(sluice: Sluice) -> list[str]:
    newest = sluice("runs --json --limit 1", ok=True).json()[0]["id"]
    shown = sluice(f"runs show {newest} --json", ok=True).json()
    return [
        w
        for stage in shown["stages"]
        if stage["stage_type"] == "extract"
        for w in stage["warnings"]
    ]


def test_the_contract_is_parsed_merged_and_refused_in_one_line() -> None:
    assert describe_contract(None) == "added=evolve, dropped=freeze, widened=evolve, changed=freeze"
    assert merge_contract(None, "dropped=evolve") == "dropped=evolve"
    assert merge_contract("dropped=evolve", "added=discard") == "added=discard,dropped=evolve"
    assert merge_contract("dropped=evolve", "") is None
    assert parse_contract("added=freeze")["dropped"] == "freeze"
    for bad, said in (
        ("added=maybe", "added takes evolve or freeze or discard"),
        ("changed=evolve", "changed takes freeze"),
        ("colour=red", "give KIND=SETTING with KIND one of added, dropped, widened, changed"),
    ):
        with pytest.raises(ConfigError, match=said):
            parse_contract(bad)


def test_an_added_column_evolves_by_default_with_a_warning_and_reload_fills_it(
    acct: tuple[Sluice, str, str],
) -> None:
    sluice, source, target = acct
    execute(source, "ALTER TABLE acct ADD COLUMN extra text DEFAULT 'x'")
    touch(source)
    sluice("run acct", ok=True)
    warned = extract_warnings(sluice)
    assert warned == [
        "column(s) extra added; the 300 rows loaded before hold NULL in them: run "
        "`sluice table reload acct` to fill them"
    ]
    status = sluice("status", ok=True)
    assert "acct: column(s) extra added; the 300 rows loaded before hold NULL" in status.err
    # The 3 rows touched, and the row at the watermark, read again (its content changed).
    assert fetch(target, "SELECT count(*) FROM acct WHERE extra IS NULL") == [(ROWS - 4,)]
    sluice("table reload acct", ok=True)
    assert fetch(target, "SELECT count(*) FROM acct WHERE extra = 'x'") == [(ROWS,)]


def test_a_dropped_column_fails_by_default_and_evolves_on_request(
    acct: tuple[Sluice, str, str],
) -> None:
    sluice, source, target = acct
    execute(source, "ALTER TABLE acct DROP COLUMN note")
    touch(source)
    failed = sluice("run acct")
    assert failed.code == 1
    assert "column(s) 'note' dropped from the source" in failed.err
    assert "run `sluice table reload acct` to drop them from the sink too" in failed.err
    assert "`sluice table edit acct --schema-contract dropped=evolve`" in failed.err
    assert fetch(target, "SELECT count(*) FROM acct WHERE note IS NULL") == [(0,)]

    sluice("table edit acct --schema-contract dropped=evolve", ok=True)
    shown = sluice("table show acct --json", ok=True).json()
    assert (
        shown["schema_contract"] == "added=evolve, dropped=evolve, widened=evolve, changed=freeze"
    )
    sluice("run acct", ok=True)
    assert extract_warnings(sluice) == [
        "column note dropped from the source; the sink keeps it, NULL in rows loaded from now "
        "on: run `sluice table reload acct` to drop it from the sink too"
    ]
    assert fetch(target, "SELECT count(*) FROM acct WHERE note IS NULL") == [(4,)]
    touch(source, "id = 4")
    sluice("run acct", ok=True)
    assert extract_warnings(sluice) == []  # told once: the lake's schema has moved on


def test_added_columns_frozen_fail_and_discarded_stay_out(acct: tuple[Sluice, str, str]) -> None:
    sluice, source, target = acct
    sluice("table edit acct --schema-contract added=freeze", ok=True)
    execute(source, "ALTER TABLE acct ADD COLUMN secret_ish text DEFAULT 's'")
    touch(source)
    frozen = sluice("run acct")
    assert frozen.code == 1
    assert "column(s) 'secret_ish' added in the source, and the table's schema contract" in (
        frozen.err
    )
    sluice("table edit acct --schema-contract added=discard", ok=True)
    sluice("run acct", ok=True)
    assert "secret_ish" not in columns(target)
    assert extract_warnings(sluice)[0].startswith(
        "column(s) secret_ish in the source left out (schema contract added=discard)"
    )
    assert fetch(target, "SELECT count(*) FROM acct") == [(ROWS,)]


def test_a_widened_type_evolves_or_is_frozen(acct: tuple[Sluice, str, str]) -> None:
    sluice, source, target = acct
    sluice("table edit acct --schema-contract widened=freeze", ok=True)
    execute(source, "ALTER TABLE acct ALTER COLUMN amount TYPE bigint")
    execute(source, "UPDATE acct SET amount = 5000000000, updated_at = now() WHERE id = 1")
    frozen = sluice("run acct")
    assert frozen.code == 1 and "column 'amount' widened from int32 to int64" in frozen.err
    sluice("table edit acct --schema-contract ''", ok=True)
    sluice("run acct", ok=True)
    assert extract_warnings(sluice) == ["column amount widened from int32 to int64"]
    assert columns(target)["amount"] == "bigint"
    assert fetch(target, "SELECT amount FROM acct WHERE id = 1") == [(5000000000,)]


def test_a_bad_contract_is_refused_at_the_command_line(acct: tuple[Sluice, str, str]) -> None:
    sluice, _, _ = acct
    refused = sluice("table edit acct --schema-contract dropped=discard")
    assert refused.code == 3
    assert refused.err.strip() == (
        "error: schema contract dropped='discard': dropped takes freeze or evolve"
    )
    assert (
        sluice("table show acct --json", ok=True)
        .json()["schema_contract"]
        .startswith("added=evolve, dropped=freeze")
    )
