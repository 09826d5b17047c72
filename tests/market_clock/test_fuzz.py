"""Schema-driven fuzzing of a real clock process's OpenAPI spec (schemathesis 4), as
`tests/optimizer/test_fuzz.py` does for the optimizer: no request gets a 500, and every answer
matches the documented schema, while the clock drives a game on a real Anvil through a real
queue.

``schemathesis.pytest.from_fixture`` fails under pytest 9 (it reads ``Function._nodeid``), so
the schema is loaded from the running server inside the test and each operation's hypothesis
strategy is driven directly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ledger_contracts import Anvil, free_port

from .conftest import Market, Proc, Queue, wait_http
from .players import Players, wait_for

OPERATIONS = ["GET /health"]
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
]
# Chain seconds at x1: the game stays in registration while the fuzzing runs.
FLAGS = ("--registration", "3600", "--period", "7200", "--delivery", "300", "--games", "1")


def game_count(market: Market) -> int:
    return int(market.deployment.contract(market.w3, "Market").functions.gameCount().call())


@pytest.fixture(scope="module")
def clock_url(
    anvil: Anvil, market: Market, queue: Queue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of a clock process driving a game (opened by it, every prosumer
    registered), for the whole module."""
    game, port = game_count(market) + 1, free_port()
    clock = Proc(
        [
            "-m",
            "market_clock",
            "--rpc",
            anvil.url,
            "--deployment",
            str(market.file),
            "--queue",
            queue.url,
            "--port",
            str(port),
            *FLAGS,
        ],
        tmp_path_factory.mktemp("clock") / "clock.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", proc=clock)
        wait_for(lambda: game_count(market) == game, 20, f"the clock to open game {game}")
        Players(market.w3, market.deployment, market.sellers, market.buyers, [], bids={}).register(
            game
        )
        wait_for(
            lambda: (
                (httpx.get(f"{url}/health", timeout=5).json()["game"] or {}).get("buyers")
                == len(market.buyers)
            ),
            20,
            "the health endpoint to see the registrations",
        )
        yield url
        assert clock.alive(), clock.text()
    finally:
        clock.stop()


def test_the_schema_lists_every_operation(clock_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{clock_url}/openapi.json")
    labels = {result.ok().label for result in schema.get_all_operations()}  # type: ignore[union-attr]
    assert labels == set(OPERATIONS)


# (GET /health has no input to make invalid: positive cases only, as for the optimizer's)
def test_no_request_gets_a_server_error(clock_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{clock_url}/openapi.json")
    operation = schema.find_operation_by_label("GET /health")
    assert operation is not None
    calls: list[int] = []

    @settings(
        max_examples=50,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case: schemathesis.Case) -> None:
        calls.append(case.call_and_validate(base_url=clock_url, checks=CHECKS).status_code)

    run()
    assert calls and set(calls) == {200}


# Beyond the schema: any method, path, query and body is answered without a 5xx.
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(
        [
            "/health",
            "/health/",
            "/",
            "/docs",
            "/openapi.json",
            "/games/1",
            "/health%00",
            "/..%2fhealth",
        ]
    ),
    query=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
    body=st.binary(max_size=300),
)
def test_no_raw_request_gets_a_server_error(
    clock_url: str, method: str, path: str, query: dict[str, str], body: bytes
) -> None:
    response = httpx.request(method, clock_url + path, params=query, content=body, timeout=10)
    assert response.status_code < 500, (method, path, response.text[:300])
