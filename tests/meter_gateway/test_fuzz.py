"""Schema-driven fuzzing of the real gateway process (schemathesis 4, as
`tests/optimizer/test_fuzz.py`): no request gets a 500, every status is documented, data that
breaks the schema is refused; all of it with the token of a meter whose prosumer plays in no
game, so that not one fuzzed reading may reach the queue."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    status_code_conformance,
)

from .conftest import Market

CHECKS = [not_a_server_error, status_code_conformance, negative_data_rejection]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_reading_gets_a_server_error(market: Market, mode: GenerationMode) -> None:
    m = market
    schema = schemathesis.openapi.from_url(f"{m.gateway_url}/openapi.json")
    operation = schema.find_operation_by_label("POST /readings")
    assert operation is not None
    headers = {"Authorization": f"Bearer {m.token('meter-idle')}"}
    statuses: list[int] = []
    before = m.meter_nonce()

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        statuses.append(
            case.call_and_validate(
                base_url=m.gateway_url, headers=headers, checks=CHECKS
            ).status_code
        )

    run()
    # negative cases break the Authorization header too (401)
    allowed = {404, 422} if mode == GenerationMode.POSITIVE else {401, 404, 422}
    assert statuses and set(statuses) <= allowed, set(statuses)
    assert m.meter_nonce() == before
