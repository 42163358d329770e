"""Every registered connector is in the conformance suite: a source or sink type without its
line in test_sources.py or test_sinks.py fails here."""

from __future__ import annotations

from sluice.connectors import registry
from tests.conformance.test_sinks import SINKS
from tests.conformance.test_sources import SOURCES


def _ids(params: list[object]) -> set[str]:
    return {str(getattr(param, "id", "")) for param in params}


def test_every_registered_source_and_sink_has_a_line() -> None:
    assert set(registry.source_types()) <= _ids(list(SOURCES)), "add it to test_sources.py"
    assert set(registry.sink_types()) <= _ids(list(SINKS)), "add it to test_sinks.py"
