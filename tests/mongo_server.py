"""MongoDB's stand-in: SecantusDB (PyPI `secantusdb`, test-only), a server speaking the MongoDB
wire protocol over WiredTiger, started once per test process on a random port. No mongod can be
installed here; the source's code path is the one it takes against a real deployment (pymongo
over the wire). Each test takes a database of its own."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from secantus import SecantusDBServer

    server = SecantusDBServer(storage_path=str(tmp_path_factory.mktemp("secantus")))
    server.start()
    yield str(server.uri)
    server.stop()


@pytest.fixture
def mongo_db(mongo_uri: str) -> Iterator[Any]:
    """A database of the test's own (a pymongo Database), dropped after it."""
    import pymongo

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo_uri)
    name = f"t{os.getpid()}_{next(_databases)}"
    yield client[name]
    client.drop_database(name)
    client.close()


def mongo_creds(uri: str, database: str, **extra: Any) -> dict[str, Any]:
    return {"uri": uri, "database": database, **extra}


__all__ = ["Path", "mongo_creds", "mongo_db", "mongo_uri"]
