"""The MongoDB source against its stand-in (tests/mongo_server.py: SecantusDB, a server speaking
the MongoDB wire protocol; pymongo talks to it as to mongod): every BSON type exact through the
lake into DuckDB and PostgreSQL, Chinook as documents identical in PostgreSQL, nested values as
structs and lists or as JSON text, the rules for fields whose type varies, incremental reads on
a date field (ties, look-back, the NULL-key fallback) and on _id, fields added and fields the
sample missed, and errors in one line."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from bson import Int64

from sluice.connectors.mongo.source import MongoSource
from tests.conformance.conftest import assert_bad_creds_fail_fast
from tests.conformance.systems import DuckDBSystem
from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.mongo_server import mongo_creds, mongo_db, mongo_uri
from tests.services import pg_target

__all__ = ["mongo_db", "mongo_uri", "pg_target"]

T0 = datetime(2024, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)


def _documents() -> list[dict[str, Any]]:
    from bson import Binary, Decimal128, Int64, ObjectId, Regex

    return [
        {
            "_id": ObjectId("65e1a0000000000000000001"), "n32": 7, "n64": Int64(2**62 + 1),
            "ratio": 0.1, "price": Decimal128("12345.678"), "name": "Zürich 🎉 'q\"",
            "flag": True, "at": T0, "ancient": datetime(1, 1, 1, tzinfo=UTC),
            "guid": Binary(uuid.UUID(int=5).bytes, 4), "raw": b"\x00\xff",
            "address": {"city": "Bern", "zip": 3000}, "tags": ["a", "b"],
            "lines": [{"sku": "x1", "qty": 2}, {"sku": "y2", "qty": 1}],
            "mixed": "text", "pattern": Regex("^a", "i"), "wholes": 3,
        },
        {
            "_id": ObjectId("65e1a0000000000000000002"), "n32": -2147483648, "n64": Int64(5),
            "ratio": -1e308, "price": Decimal128("-0.001"), "name": "", "flag": False,
            "at": T0 + timedelta(days=1), "address": {"city": None}, "tags": [],
            "lines": [], "mixed": 42, "wholes": 2.5,
        },
        {"_id": ObjectId("65e1a0000000000000000003"), "mixed": {"k": [1, "x"]}},
    ]  # fmt: skip


def _configure(
    sluice: Sluice, uri: str, database: str, sink_type: str, sink_creds: dict[str, Any],
    *table_options: str,
) -> None:  # fmt: skip
    sluice("init", ok=True)
    added = sluice("source add m --type mongo --creds", json.dumps(mongo_creds(uri, database)))
    assert added.code == 0, added.err
    assert "MongoDB 8" in added.err  # the check's line names what answered
    sluice(f"destination add wh --type {sink_type} --creds", json.dumps(sink_creds), ok=True)
    sluice("table add orders --source m --destination wh --primary-key _id", *table_options,
           ok=True)  # fmt: skip


def test_every_bson_type_arrives_exactly_as_structs_and_lists_in_duckdb(
    sluice: Sluice, workdir: Path, mongo_uri: str, mongo_db: Any
) -> None:
    mongo_db.orders.insert_many(_documents())
    warehouse = DuckDBSystem(workdir / "wh.duckdb")
    _configure(sluice, mongo_uri, mongo_db.name, "duckdb", warehouse.creds())
    ran = sluice("run orders --json", ok=True).json()
    assert ran["status"] == "success", ran
    rows = _duckdb_records(warehouse, "orders")
    first, second, third = (rows[f"65e1a000000000000000000{i}"] for i in (1, 2, 3))
    assert first["n32"] == 7 and first["n64"] == 2**62 + 1
    assert first["ratio"] == 0.1 and second["ratio"] == -1e308
    assert first["price"] == Decimal("12345.678") and second["price"] == Decimal("-0.001")
    assert first["name"] == "Zürich 🎉 'q\"" and second["name"] == ""
    assert first["at"] == T0 and second["at"] == T0 + timedelta(days=1)
    assert first["ancient"] == datetime(1, 1, 1, tzinfo=UTC)
    assert first["guid"] == "00000000-0000-0000-0000-000000000005"
    assert first["raw"] == b"\x00\xff" and first["flag"] is True and second["flag"] is False
    assert first["address"] == {"city": "Bern", "zip": 3000}
    assert second["address"] == {"city": None, "zip": None}
    assert first["tags"] == ["a", "b"] and second["tags"] == []
    assert first["lines"] == [{"qty": 2, "sku": "x1"}, {"qty": 1, "sku": "y2"}]
    # A field of varying types is JSON text: each value as relaxed Extended JSON.
    assert first["mixed"] == '"text"' and second["mixed"] == "42"
    assert json.loads(third["mixed"]) == {"k": [1, "x"]}
    assert json.loads(first["pattern"]) == {"$regularExpression": {"pattern": "^a", "options": "i"}}
    # Integers and doubles: doubles, the integer exact.
    assert first["wholes"] == 3.0 and second["wholes"] == 2.5
    assert third["n32"] is None and third["address"] is None and third["tags"] is None


def _duckdb_records(warehouse: DuckDBSystem, table: str) -> dict[str, dict[str, Any]]:
    """The sink table's rows by _id, as column -> value (timestamps in UTC)."""
    import duckdb

    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        cursor = connection.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    found = {}
    for row in rows:
        record = {
            name: value.astimezone(UTC) if isinstance(value, datetime) else value
            for name, value in zip(names, row, strict=True)
        }
        found[str(record["_id"])] = record
    return found


def test_nested_values_as_json_text_into_postgres(
    sluice: Sluice, mongo_uri: str, mongo_db: Any, pg_target: str
) -> None:
    mongo_db.orders.insert_many(_documents())
    _configure(sluice, mongo_uri, mongo_db.name, "postgres", {"url": pg_target},
               "--nested", "json")  # fmt: skip
    assert sluice("run orders --json", ok=True).json()["status"] == "success"
    with psycopg.connect(pg_target) as connection:
        types: dict[str, str] = dict(connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'orders'"
        ).fetchall())  # fmt: skip
        rows = connection.execute(
            'SELECT "_id", address, lines, n64, price, at FROM orders ORDER BY "_id"'
        ).fetchall()
    assert types["address"] == "text" and types["n64"] == "bigint"
    assert types["price"] == "numeric" and types["at"] == "timestamp with time zone"
    assert json.loads(rows[0][1]) == {"city": "Bern", "zip": 3000}
    assert json.loads(rows[0][2]) == [{"sku": "x1", "qty": 2}, {"sku": "y2", "qty": 1}]
    assert rows[0][3:] == (2**62 + 1, Decimal("12345.678"), T0)
    shown = sluice("table show orders --json", ok=True).json()
    assert shown["nested"] == "json"


def test_incremental_on_a_date_field_takes_ties_once_and_missing_keys_by_the_fallback(
    sluice: Sluice, workdir: Path, mongo_uri: str, mongo_db: Any
) -> None:
    orders = mongo_db.orders
    orders.insert_many([
        {"_id": i, "updatedAt": T0 + timedelta(minutes=i), "createdAt": T0, "v": i}
        for i in range(1, 6)
    ] + [{"_id": 6, "createdAt": T0, "v": 6}])  # fmt: skip
    warehouse = DuckDBSystem(workdir / "wh.duckdb")
    incremental = ("--load", "incremental", "--key", "updatedAt", "--sink-load", "incremental")
    _configure(sluice, mongo_uri, mongo_db.name, "duckdb", warehouse.creds(), *incremental)
    refused = sluice("run orders --json").json()
    assert refused["status"] == "failed"
    assert "--null-key-fallback" in refused["error_message"]
    sluice("table edit orders --null-key-fallback createdAt --lookback 1m", ok=True)
    assert sluice("run orders --json", ok=True).json()["status"] == "success"
    newest = T0 + timedelta(minutes=5)
    orders.update_one({"_id": 2}, {"$set": {"v": 20, "updatedAt": newest + timedelta(seconds=30)}})
    orders.insert_one({"_id": 7, "updatedAt": newest, "v": 7})  # a tie with the watermark
    second = sluice("run orders --json", ok=True).json()
    extract = next(s for s in second["stages"] if s["stage_type"] == "extract")
    assert extract["rows_processed"] == 2  # _id 2 changed, _id 7 new; the rest held back
    expected = {d["_id"]: d["v"] for d in orders.find()}
    got = {r[0]: r[-1] for r in _values(warehouse)}
    assert got == expected
    assert sluice("run orders --json", ok=True).json()["stages"][1]["rows_processed"] == 0
    # A newer document whose key is text, not a date: whether the sample sees it or not,
    # the run fails naming the field (test_an_off_type_key_the_sample_missed_is_read below).
    orders.insert_one({"_id": 8, "updatedAt": "2030-01-01", "v": 8})
    off_type = sluice("run orders --json").json()
    assert off_type["status"] == "failed" and "'updatedAt'" in off_type["error_message"]


def test_an_off_type_key_the_sample_missed_is_read_and_refused(
    mongo_uri: str, mongo_db: Any
) -> None:
    """`$gte` on a date matches dates only: a key of another type must still be read (then
    refused by name), never skipped by the incremental filter."""
    from sluice.connectors.base import ReadRequest
    from sluice.connectors.mongo.config import MongoCreds
    from sluice.connectors.mongo.infer import Shape
    from sluice.connectors.mongo.shape import Kind, arrow_field
    from sluice.core.errors import TerminalError
    from sluice.core.models import TableRef

    mongo_db.orders.insert_many(
        [{"_id": i, "updatedAt": T0 + timedelta(minutes=i)} for i in range(5)]
        + [{"_id": 99, "updatedAt": Int64(1_900_000_000_000)}]
    )
    source = MongoSource(MongoCreds(uri=mongo_uri, database=mongo_db.name))  # type: ignore[arg-type]
    kinds = {"_id": Kind("int32"), "updatedAt": Kind("date")}  # what a sample missing _id 99 saw
    schema = pa.schema([arrow_field(n, k, False) for n, k in kinds.items()])
    source._shapes["orders"] = Shape(kinds=kinds, schema=schema, sampled=5)
    read = source.read(ReadRequest(TableRef("orders"), "updatedAt", T0 + timedelta(minutes=3)))
    with pytest.raises(TerminalError, match="field 'updatedAt' of the document with _id 99"):
        list(read)
    source.close()


def _values(warehouse: DuckDBSystem) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        return connection.execute('SELECT "_id", "v" FROM orders ORDER BY "_id"').fetchall()


def test_fields_added_become_columns_and_fields_the_sample_missed_are_kept(
    sluice: Sluice, workdir: Path, mongo_uri: str, mongo_db: Any
) -> None:
    from bson import ObjectId

    orders = mongo_db.orders
    # Nested ObjectIds: the lake must record them as such (else they would look changed).
    ref = {"by": ObjectId(), "seen": [ObjectId()]}
    orders.insert_many([{"legacy": f"old {i}", "qty": i, "ref": ref} for i in range(3)])
    warehouse = DuckDBSystem(workdir / "wh.duckdb")
    _configure(sluice, mongo_uri, mongo_db.name, "duckdb", warehouse.creds(),
               "--load", "incremental", "--key", "_id", "--sink-load", "incremental")  # fmt: skip
    sluice("run orders", ok=True)
    orders.delete_many({})  # the sample now cannot see 'legacy': it stays a column
    later = [{"_id": ObjectId(), "qty": 10 + i, "coupon": {"code": "X"}, "ref": ref}
             for i in range(2)]  # fmt: skip
    orders.insert_many(later)
    ran = sluice("run orders --json", ok=True).json()
    warned = " ".join(w for s in ran["stages"] for w in (s.get("warnings") or []))
    assert "coupon" in warned and "added" in warned
    assert "dropped" not in warned
    import duckdb

    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        rows = connection.execute("SELECT legacy, qty, coupon FROM orders ORDER BY qty").fetchall()
    assert rows == [("old 0", 0, None), ("old 1", 1, None), ("old 2", 2, None),
                    (None, 10, {"code": "X"}), (None, 11, {"code": "X"})]  # fmt: skip
    # The lake recorded qty as numbers: strings now cannot join them without a reload.
    orders.insert_one({"_id": ObjectId(), "qty": "twelve"})
    orders.delete_many({"qty": {"$type": "int"}})
    conflict = sluice("run orders --json").json()
    assert conflict["status"] == "failed"
    assert (
        "field 'qty' was read as int32 before and now also holds string"
        in (conflict["error_message"])
    )
    assert "sluice table reload" in conflict["error_message"]


def test_bad_creds_an_unreachable_server_and_an_unknown_collection_fail_in_one_line(
    sluice: Sluice, workdir: Path, mongo_uri: str, mongo_db: Any
) -> None:
    class Unreachable:
        type_name = "mongo"

        def bad_creds(self) -> list[tuple[str, dict[str, Any], str]]:
            return [
                ("unreachable", mongo_creds(
                    "mongodb://reader:pw-8mq@127.0.0.1:1/?serverSelectionTimeoutMS=1500",
                    "shop"), "pw-8mq"),
                ("not a URI", mongo_creds("postgres://reader:pw-3kd@h/x", "shop"), "pw-3kd"),
                ("bad port", mongo_creds("mongodb://reader:pw-2zz@127.0.0.1:port/", "shop"),
                 "pw-2zz"),
                ("bad database", mongo_creds(mongo_uri, "a.b"), ""),
            ]  # fmt: skip

    started = time.monotonic()
    assert_bad_creds_fail_fast(sluice, "source", Unreachable())  # type: ignore[arg-type]
    assert time.monotonic() - started < 15
    quick = "mongodb://u:pw-1@127.0.0.1:1/?serverSelectionTimeoutMS=500"
    failed = sluice("source add x --type mongo --creds", json.dumps(mongo_creds(quick, "shop")))
    assert "MongoDB at 127.0.0.1:1/shop did not answer" in failed.err
    mongo_db.orders.insert_one({"a": 1})
    sluice("source add m --type mongo --creds",
           json.dumps(mongo_creds(mongo_uri, mongo_db.name)), ok=True)  # fmt: skip
    sluice("destination add wh --type duckdb --creds",
           json.dumps(DuckDBSystem(workdir / "wh.duckdb").creds()), ok=True)  # fmt: skip
    missing = sluice("table add ordrs --source m --destination wh --primary-key _id")
    assert missing.code != 0 and "did you mean 'orders'" in missing.err


def test_discover_lists_collections_and_suggests_an_indexed_modification_time(
    sluice: Sluice, mongo_uri: str, mongo_db: Any
) -> None:
    mongo_db.orders.insert_many([{"updatedAt": T0, "v": i} for i in range(4)])
    mongo_db.orders.create_index("updatedAt")
    mongo_db.events.insert_one({"kind": "x"})
    sluice("init", ok=True)
    sluice("source add m --type mongo --creds",
           json.dumps(mongo_creds(mongo_uri, mongo_db.name)), ok=True)  # fmt: skip
    found = {e["table"]: e for e in sluice("discover m --json", ok=True).json()}
    assert set(found) == {"orders", "events"}
    assert found["orders"]["rows_estimate"] == 4 and found["orders"]["primary_key"] == ["_id"]
    assert found["orders"]["incremental_keys"][0]["column"] == "updatedAt"


def _chinook_documents() -> dict[str, list[dict[str, Any]]]:
    """Chinook's 11 tables as collections: a document per row, NULLs left out (as documents
    leave out what they lack), NUMERIC as Decimal128 and DATETIME as dates."""
    import sqlite3

    from bson import Decimal128

    found: dict[str, list[dict[str, Any]]] = {}
    with sqlite3.connect(CHINOOK_SQLITE) as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]  # fmt: skip
        for table in tables:
            declared = {r[1]: r[2].upper() for r in db.execute(f'PRAGMA table_info("{table}")')}
            cursor = db.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            documents = []
            for row in cursor:
                document: dict[str, Any] = {}
                for name, value in zip(names, row, strict=True):
                    if value is None:
                        continue
                    if declared[name].startswith("NUMERIC"):
                        value = Decimal128(f"{value:.2f}")
                    elif declared[name] == "DATETIME":
                        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
                    document[name] = value
                documents.append(document)
            found[table] = documents
    return found


def test_chinook_as_documents_arrives_identical_in_postgres(
    sluice: Sluice, mongo_uri: str, mongo_db: Any, pg_target: str
) -> None:
    chinook = _chinook_documents()
    assert len(chinook) == 11
    for table, documents in chinook.items():
        mongo_db[table].insert_many(documents)
    sluice("init", ok=True)
    sluice("source add m --type mongo --creds",
           json.dumps(mongo_creds(mongo_uri, mongo_db.name)), ok=True)  # fmt: skip
    sluice("destination add pg --type postgres --creds", json.dumps({"url": pg_target}), ok=True)
    for table in chinook:
        sluice(f"table add {table} --source m --destination pg --primary-key _id", ok=True)
        sluice("run", table, ok=True)
    with psycopg.connect(pg_target) as connection:
        for table, documents in chinook.items():
            cursor = connection.execute(f'SELECT * FROM "{table}" ORDER BY "_id"')
            names = [d.name for d in cursor.description or ()]
            got = [
                {
                    n: v.astimezone(UTC) if isinstance(v, datetime) else v
                    for n, v in zip(names, row, strict=True)
                    if v is not None and n != "_id"
                }
                for row in cursor.fetchall()
            ]
            expected = [
                {n: v.to_decimal() if hasattr(v, "to_decimal") else v for n, v in d.items()
                 if n != "_id"}
                for d in documents
            ]  # fmt: skip
            # Inserted in order, so ObjectIds order as the documents do.
            assert [repr(sorted(r.items())) for r in got] == [
                repr(sorted(r.items())) for r in expected
            ], table
