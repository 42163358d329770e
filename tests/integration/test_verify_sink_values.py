"""verify_sink compares each column's non-NULL values with what the lake batches hold.

A sink that takes the rows but not all their values (here a trigger on the PostgreSQL sink
table blanks one, as a driver or type quirk would) used to pass verify_sink: the row count
agreed. Now the run fails naming the column and the counts. Real PostgreSQL source and sink.
"""

from __future__ import annotations

import json

import psycopg

from tests.conftest import Sluice


def test_a_value_lost_in_the_sink_fails_verify_sink_naming_the_column(
    sluice: Sluice, pg_database: str, pg_target: str
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id int, body text, at timestamptz NOT NULL)")
        conn.execute(
            "INSERT INTO notes SELECT g, 'note ' || g, now() - interval '1 day' + g * "
            "interval '1 second' FROM generate_series(1, 20) g"
        )
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    sluice(
        f"destination add dst --type postgres --creds '{json.dumps({'url': pg_target})}'", ok=True
    )
    # Append-only (no primary key), so every lake row is one sink row: counts compare exactly.
    sluice(
        "table add notes --source src --destination dst --load incremental --key at "
        "--sink-load incremental",
        ok=True,
    )
    sluice("run notes", ok=True)
    with psycopg.connect(pg_target, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION blank() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.id = 25 THEN NEW.body := NULL; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER blank BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION blank()"
        )
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO notes SELECT g, 'note ' || g, now() - interval '1 hour' + g * "
            "interval '1 second' FROM generate_series(21, 30) g"
        )
    failed = sluice("run notes")
    assert failed.code == 1
    assert (
        "verify_sink: sink table notes: column 'body' holds 29 non-NULL values but the lake "
        "batches it holds have 30" in failed.err
    )
    assert "sluice table reload notes --hop dl_to_sink" in failed.err
