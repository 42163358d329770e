"""A collection's columns: the kinds of its top-level fields over a sample of its documents,
widened by what the lake's earlier batches recorded (shape.py has the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sluice.connectors.mongo.shape import (
    NULL,
    Kind,
    ShapeConflict,
    absorb,
    arrow_field,
    kind_of,
    merge,
    recorded_kind,
    settled,
)
from sluice.core.errors import TerminalError

if TYPE_CHECKING:
    from pymongo.collection import Collection


@dataclass(frozen=True)
class Shape:
    kinds: dict[str, Kind]  # the columns, in order
    schema: pa.Schema
    sampled: int  # documents the inference looked at


def infer(
    collection: Collection[dict[str, Any]],
    sample_size: int,
    nested_as_json: bool,
    recorded: pa.Schema | None,
) -> Shape:
    found: dict[str, Kind] = {}
    sampled = 0
    for document in _sample(collection, sample_size):
        sampled += 1
        for name, value in document.items():
            found[name] = merge(found.get(name, NULL), kind_of(value))
    kinds: dict[str, Kind] = {}
    earlier = {f.name: recorded_kind(f) for f in recorded or ()}
    # _id first, then the lake's columns in their order, then new fields sorted by name.
    order = ["_id", *earlier, *sorted(found)]
    for name in dict.fromkeys(order):
        if name not in found and name not in earlier:
            continue
        now = found.get(name, NULL)
        try:
            kinds[name] = settled(absorb(earlier[name], now, name) if name in earlier else now)
        except ShapeConflict as conflict:
            raise TerminalError(
                f"collection {collection.name!r}: field {conflict.path!r} was read as "
                f"{conflict.before.tag} before and now also holds {conflict.now.tag} values; "
                "no column holds both without rewriting the rows read before: run `sluice "
                "table reload` to read the collection afresh (the field then becomes JSON text)"
            ) from None
    schema = pa.schema([arrow_field(n, k, nested_as_json) for n, k in kinds.items()])
    return Shape(kinds=kinds, schema=schema, sampled=sampled)


def _sample(collection: Collection[dict[str, Any]], size: int) -> Any:
    """Every document (size 0), else `size` at random and the `size` newest by _id."""
    if size == 0:
        yield from collection.find({}, batch_size=10_000)
        return
    yield from collection.aggregate([{"$sample": {"size": size}}])
    yield from collection.find({}).sort("_id", -1).limit(size)
