"""The MongoDB source's column rules (connectors/mongo/shape.py) and its refusals of values the
inferred columns cannot hold exactly (convert.py): no server needed, every case decided."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from bson import Decimal128, Int64, ObjectId

from sluice.connectors.base import ReadRequest
from sluice.connectors.mongo.config import MongoCreds
from sluice.connectors.mongo.convert import Misfit, batch_of, converters
from sluice.connectors.mongo.infer import Shape
from sluice.connectors.mongo.query import key_filter
from sluice.connectors.mongo.shape import (
    Kind,
    arrow_field,
    kind_of,
    merge,
    recorded_kind,
    settled,
)
from sluice.connectors.mongo.source import MongoSource
from sluice.core.errors import TerminalError
from sluice.core.models import TableRef


def _kind(*values: Any) -> Kind:
    kind = Kind("null")
    for value in values:
        kind = merge(kind, kind_of(value))
    return settled(kind)


@pytest.mark.parametrize(
    ("values", "arrow"),
    [
        ((1, Int64(2)), pa.int64()),
        ((1, 2.5), pa.float64()),
        ((Int64(2**60), 2.5), pa.string()),  # no double holds 2**60 + 1 and its kin: JSON
        ((1, Decimal128("1.25")), pa.decimal128(12, 2)),
        ((Int64(1), Decimal128("1.25")), pa.decimal128(21, 2)),
        ((Decimal128("1.5"), 2.5), pa.string()),  # a binary fraction is no decimal one
        ((Decimal128("NaN"),), pa.string()),
        (("a", 1), pa.string()),
        ((None, None), pa.string()),
        (({},), pa.string()),
        (([], []), pa.string()),
        (([1], ["x"]), pa.list_(pa.string())),  # the elements vary: each is JSON text
        (({"a": 1}, {"b": "x"}), pa.struct([("a", pa.int32()), ("b", pa.string())])),
        (
            ({"b": 1}, {"a": {"c": True}}),
            pa.struct([("a", pa.struct([("c", pa.bool_())])), ("b", pa.int32())]),
        ),
        (({"a": 1}, [1]), pa.string()),
        ((ObjectId(), "x"), pa.string()),
    ],
)
def test_a_field_takes_the_narrowest_type_holding_every_value(
    values: tuple[Any, ...], arrow: pa.DataType
) -> None:
    assert arrow_field("f", _kind(*values), nested_as_json=False).type == arrow


def test_json_mode_makes_documents_and_arrays_text_and_lake_columns_read_back() -> None:
    kind = _kind({"a": 1}, {"a": 2})
    field = arrow_field("f", kind, nested_as_json=True)
    assert field.type == pa.string() and recorded_kind(field).tag == "json"
    struct = arrow_field("f", kind, nested_as_json=False)
    assert recorded_kind(struct) == kind
    assert recorded_kind(arrow_field("d", _kind(Decimal128("1.5")), False)).scale == 1


def _shape(**kinds: Kind) -> Shape:
    fields = {"_id": Kind("int32"), **kinds}
    schema = pa.schema([arrow_field(n, k, False) for n, k in fields.items()])
    return Shape(kinds=fields, schema=schema, sampled=2)


@pytest.mark.parametrize(
    ("kinds", "document", "path", "problem"),
    [
        ({}, {"new": 1}, "new", "a field none of the sampled documents had"),
        ({"q": Kind("int32")}, {"q": "x"}, "q", "a string value in a column of int32"),
        ({"q": Kind("double")}, {"q": Int64(2**53 + 1)}, "q", "no double holds it exactly"),
        ({"p": _kind(Decimal128("1.5"))}, {"p": Decimal128("1.25")}, "p", "more digits"),
        ({"a": _kind({"x": 1})}, {"a": {"y": 1}}, "a.y", "none of the sampled documents"),
        ({"l": _kind([1])}, {"l": [1, "x"]}, "l[]", "a string value in a column of int32"),
    ],
)
def test_a_value_the_columns_cannot_hold_is_refused_naming_its_field_and_document(
    kinds: dict[str, Kind], document: dict[str, Any], path: str, problem: str
) -> None:
    shape = _shape(**kinds)
    with pytest.raises(Misfit) as refused:
        batch_of([{"_id": 1}, {"_id": 2, **document}], converters(shape.kinds, False),
                 shape.schema)  # fmt: skip
    assert refused.value.path == path and problem in refused.value.problem
    assert refused.value.document_id == 2
    source = MongoSource(MongoCreds(uri="mongodb://u:pw-5t@h:27017/", database="shop"))  # type: ignore[arg-type]
    with pytest.raises(TerminalError) as failed:
        source._batch([{"_id": 2, **document}], converters(shape.kinds, False), shape,
                      TableRef("orders"))  # fmt: skip
    message = str(failed.value)
    assert f"collection 'orders', field {path!r} of the document with _id 2" in message
    assert '"sample_size": 0' in message and "nothing was published" in message


def test_decimals_of_up_to_38_digits_and_javascript_arrive_exact() -> None:
    from bson import Code

    wide = [Decimal128("1234567890123456789012345678901234"), Decimal128("1E+30")]
    shape = _shape(w=_kind(*wide), m=_kind(Decimal128("0.0000000001"), Int64(10**18)),
                   js=_kind(Code("return 1")))  # fmt: skip
    assert shape.kinds["js"].tag == "json"
    batch = batch_of(
        [{"_id": 1, "w": wide[0], "m": Int64(10**18), "js": Code("return 1")},
         {"_id": 2, "w": wide[1], "m": Decimal128("0.0000000001")}],
        converters(shape.kinds, False), shape.schema,
    )  # fmt: skip
    rows = batch.to_pylist()
    assert rows[0]["w"] == Decimal("1234567890123456789012345678901234")
    assert rows[1]["w"] == Decimal("1E+30") and rows[0]["m"] == Decimal(10**18)
    assert rows[1]["m"] == Decimal("0.0000000001") and rows[0]["js"] == '{"$code": "return 1"}'


def test_messages_name_the_hosts_never_the_password() -> None:
    creds = MongoCreds(uri="mongodb://app:pw%23x@db1:27017,db2/?tls=true", database="shop")  # type: ignore[arg-type]
    assert creds.location() == "db1:27017,db2/shop" and creds.password() == "pw%23x"
    from sluice.connectors import registry
    from sluice.core.errors import ConfigError

    unescaped = {"uri": "mongodb://app:Sup3r#x@db.example.com:27017/", "database": "shop"}
    with pytest.raises(ConfigError, match="percent-encode") as refused:
        registry.validate_creds("mongo", unescaped, role="source")
    assert "Sup3r" not in str(refused.value)


def test_values_that_fit_arrive_exact() -> None:
    shape = _shape(p=_kind(Decimal128("1.50"), 3), d=_kind(1, 2.5), o=Kind("objectId"))
    oid = ObjectId("65e1a0000000000000000001")
    batch = batch_of(
        [{"_id": 1, "p": Decimal128("-7.5"), "d": 2**53, "o": oid}, {"_id": 2, "p": 4}],
        converters(shape.kinds, False), shape.schema,
    )  # fmt: skip
    assert batch.to_pylist() == [
        {"_id": 1, "p": Decimal("-7.50"), "d": float(2**53), "o": str(oid)},
        {"_id": 2, "p": Decimal("4.00"), "d": None, "o": None},
    ]


def test_an_incremental_bound_is_given_in_the_keys_bson_type() -> None:
    oid = "65e1a0000000000000000001"
    shape = _shape(o=Kind("objectId"), at=Kind("date"), j=Kind("json"))
    # Keys of another BSON type are read too (and then refused by name), never skipped.
    other = {"$exists": True, "$not": {"$type": ["objectId", "null"]}}
    where = key_filter(ReadRequest(TableRef("t"), "o", oid), shape)
    assert where == {"$or": [{"o": {"$gte": ObjectId(oid)}}, {"o": other}]}
    both = key_filter(ReadRequest(TableRef("t"), "o", oid, fallback_key="_id"), shape)
    numbers = {"$exists": True, "$not": {"$type": ["number", "null"]}}
    assert both == {"$or": [
        {"o": {"$gte": ObjectId(oid)}}, {"o": other},
        {"o": None, "_id": {"$gte": oid}}, {"o": None, "_id": numbers},
    ]}  # fmt: skip
    with pytest.raises(TerminalError, match="same type"):
        key_filter(ReadRequest(TableRef("t"), "o", "2024-01-01 00:00:00"), shape)
    with pytest.raises(TerminalError, match="JSON text"):
        key_filter(ReadRequest(TableRef("t"), "j", "x"), shape)
