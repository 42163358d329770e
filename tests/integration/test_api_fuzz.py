"""Property-based fuzzing of the whole API from its OpenAPI document (schemathesis, in-process).

Every operation gets generated requests, valid and invalid, with an admin token: none may
answer 5xx, and every answer must match the document (status code, content type, body
schema). Triggered runs are created but never executed (HeldLauncher), and the connection
tests are left out: fuzzed creds could name any host, and this suite talks to none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api_support import (
    Api,
    chinook_fixture,
    held_api_fixture,
    held_fixture,
    insert_run,
)

__all__ = ["chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures used here

MAX_EXAMPLES = 25  # per operation and run: the whole fuzz stays well under a minute
# Path parameters naming objects the seeded database holds.
KNOWN: dict[str, Any] = {
    "name": "chinook",
    "source_tablename": "Genre",
    "run_id": 1,
    "pipeline": "default",
    "order": 6,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(name="target")
def target_fixture(held_api: Api) -> Api:
    """The API over a config database with some history, so listings return real items."""
    at = datetime.now(UTC) - timedelta(hours=2)
    stages = (("extract", "success", 25, 0.5), ("load", "success", 25, 0.7))
    insert_run(table="Genre", status="success", started=at, stages=stages)
    insert_run(table="Genre", status="failed", started=at, triggered_by="api", stages=stages)
    return held_api


Operation = APIOperation[Any, Any, Any, Any]


def operation_of(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    """The operation the document defines; one it cannot define fails with its own error."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def test_no_server_errors_and_answers_match_the_document(target: Api) -> None:
    # schemathesis' own pytest integration relies on pytest internals that pytest 9 removed,
    # so each operation is driven by Hypothesis directly.
    loaded = schemathesis.openapi.from_asgi("/openapi.json", target.app, headers=target.admin)
    operations = [
        operation_of(r) for r in loaded.exclude(path_regex=r"/test$").get_all_operations()
    ]
    assert len(operations) >= 20
    # Deletions last, so the other operations still find the seeded objects.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for operation in operations:
        known = {p.name: KNOWN[p.name] for p in operation.path_parameters}
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            # Names that exist, so success answers are fuzzed too, not only 404s.
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
        )

        @given(case=cases)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=target.admin, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
