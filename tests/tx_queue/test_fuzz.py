"""Schema-driven fuzzing of the queue's HTTP API (schemathesis 4, as for the optimizer in
`tests/optimizer/test_fuzz.py`): no input, valid by the schema or not, gets a 500, every
answer has a documented status and matches the documented schema, and nothing the fuzzer sends
is relayed (the relay sends no transaction).

The schema is loaded from the running queue inside the test and each operation's hypothesis
strategy is driven directly (``schemathesis.pytest.from_fixture`` fails under pytest 9)."""

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

from .conftest import Env

OPERATIONS = [
    "POST /requests",
    "GET /requests/{request_id}",
    "GET /requests",
    "GET /signers/{address}/nonce",
    "GET /health",
]
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
]
# (GET /health has no input to make invalid)
CASES = [
    (op, mode)
    for op in OPERATIONS
    for mode in GenerationMode
    if not (op == "GET /health" and mode == GenerationMode.NEGATIVE)
]


@pytest.fixture(scope="module")
def api_schema(env: Env) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{env.url}/openapi.json")


def test_the_schema_lists_every_operation(api_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}  # type: ignore[union-attr]
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{o}-{m.value}" for o, m in CASES])
def test_no_request_gets_a_server_error(
    api_schema: schemathesis.BaseSchema, env: Env, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None
    relay_nonce = env.relay_nonce()

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=env.url, checks=CHECKS)

    run()
    assert env.relay_nonce() == relay_nonce
