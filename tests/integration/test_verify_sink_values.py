"""verify_sink compares each column's non-NULL values, and the smallest and largest value of
each numeric, date and timestamp column, with what the lake batches hold.

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


def test_a_value_changed_in_the_sink_fails_verify_sink_naming_the_column_and_bounds(
    sluice: Sluice, pg_database: str, pg_target: str
) -> None:
    """The counts agree when a value is changed rather than lost: the column's smallest and
    largest values, compared with the lake's, catch it (here the largest amount, as an
    integer read with the wrong sign or a cut decimal would)."""
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE orders (id int, amount numeric(12,2), placed date, at timestamptz, "
            "n bigint)"
        )
        conn.execute(
            "INSERT INTO orders SELECT g, g * 1.25, date '2024-01-01' + g, "
            "timestamptz '2024-01-01 00:00:00.000001+00' + g * interval '1 hour', "
            "4000000000 - g FROM generate_series(1, 20) g"
        )
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    sluice(
        f"destination add dst --type postgres --creds '{json.dumps({'url': pg_target})}'", ok=True
    )
    sluice("table add orders --source src --destination dst", ok=True)
    sluice("run orders", ok=True)  # every bound agrees: no false alarm
    manifests = sluice("lake ls orders --json", ok=True).json()
    assert len(manifests) == 1
    with psycopg.connect(pg_target, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.id = 20 THEN NEW.amount := 250.00; END IF; RETURN NEW; END $$"
        )
    # The replace builds a new table: the trigger goes on every table named orders* it makes.
    with psycopg.connect(pg_target, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION add_bump() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
            "DECLARE r record; BEGIN FOR r IN SELECT objid::regclass::text AS t FROM "
            "pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP "
            "IF r.t LIKE '%orders%' THEN EXECUTE format('CREATE TRIGGER bump BEFORE INSERT ON "
            "%s FOR EACH ROW EXECUTE FUNCTION bump()', r.t); END IF; END LOOP; END $$"
        )
        conn.execute(
            "CREATE EVENT TRIGGER add_bump ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
            "EXECUTE FUNCTION add_bump()"
        )
    try:
        failed = sluice("run orders")
    finally:
        with psycopg.connect(pg_target, autocommit=True) as conn:
            conn.execute("DROP EVENT TRIGGER add_bump")
    assert failed.code == 1
    assert (
        "verify_sink: sink table orders: column 'amount' holds values from 1.25 to 250.00 but "
        "the lake batches it holds range from 1.25 to 25.00" in failed.err
    )
    assert "sluice table reload orders --hop dl_to_sink" in failed.err
