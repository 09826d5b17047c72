"""Schema-driven fuzzing of the real server's OpenAPI spec (schemathesis 4): no input, valid
by the schema or not, gets a 500, and every answer matches the documented schema.

``schemathesis.pytest.from_fixture`` fails under pytest 9 (it reads ``Function._nodeid``), so
the schema is loaded from the running server inside the test and each operation's hypothesis
strategy is driven directly."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

OPERATIONS = [
    "POST /best-response",
    "POST /equilibrium",
    "POST /optimalEnergyDecomposition",
    "GET /health",
]
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="session")
def api_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def test_the_schema_lists_every_operation(api_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}  # type: ignore[union-attr]
    assert labels == set(OPERATIONS)


# (GET /health has no input to make invalid)
CASES = [
    (op, mode)
    for op in OPERATIONS
    for mode in GenerationMode
    if not (op == "GET /health" and mode == GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{o}-{m.value}" for o, m in CASES])
def test_no_request_gets_a_server_error(
    api_schema: schemathesis.BaseSchema, base_url: str, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None

    @settings(
        max_examples=100,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS)

    run()
