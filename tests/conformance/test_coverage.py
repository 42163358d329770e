"""Every registered connector is in the conformance suite: a source or sink type without its
line in test_sources.py or test_sinks.py fails here, unless it is a system the suite's cases
cannot express, named below with the test file that covers it instead."""

from __future__ import annotations

from pathlib import Path

from sluice.connectors import registry
from tests.conformance.test_sinks import SINKS
from tests.conformance.test_sources import SOURCES


def _ids(params: list[object]) -> set[str]:
    return {str(getattr(param, "id", "")) for param in params}


# Sources whose objects the cases cannot make: every case creates a SQL table of neutral types
# (years 1000 to 9999, doubles to 1.5e308, quotes and spaces in names), which an sObject or a
# collection of documents cannot be. Their own files cover the same ground (types exact,
# incremental ties and late records, bad creds in one line) against their stand-ins, and the
# bad-creds case itself (assert_bad_creds_fail_fast).
NOT_SQL_TABLES = {
    "salesforce": "tests/test_salesforce_source.py",
    "mongo": "tests/test_mongo_source.py",
}


def test_every_registered_source_and_sink_has_a_line() -> None:
    listed = _ids(list(SOURCES)) | set(NOT_SQL_TABLES)
    assert set(registry.source_types()) <= listed, "add it to test_sources.py"
    root = Path(__file__).resolve().parents[2]
    assert all((root / path).is_file() for path in NOT_SQL_TABLES.values())
    assert set(registry.sink_types()) <= _ids(list(SINKS)), "add it to test_sinks.py"
