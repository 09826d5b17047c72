"""The optimizer's body limit and its 422s over real HTTP: a body over the limit is a 413 naming
the limit, whether its Content-Length says so or it arrives in chunks; a 422 names the field
without echoing the input back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from gridgame import MiB

LIMIT = MiB  # the service's default


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"buyer_demand": 1, "pad": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def test_a_body_over_the_limit_is_413_naming_the_limit(client: httpx.Client) -> None:
    big = b'{"buyer_demand": "' + b"1" * LIMIT + b'"}'
    answer = client.post(
        "/best-response", content=big, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["message"] == "request body too large: the limit is 1 MiB"
    chunked = client.post(
        "/equilibrium", content=_chunks(2 * LIMIT), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413, chunked.text
    assert "1 MiB" in chunked.json()["message"]
    assert client.get("/health").json()["status"] == "ok"


def test_a_body_under_the_limit_is_read(client: httpx.Client) -> None:
    body = json.dumps({"buyer_demand": 1, "pad": "x" * (LIMIT - 1000)})
    answer = client.post(
        "/best-response", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422  # read and judged: `pad` is not a field, the rest missing
    assert "pad: is not a field of this request" in answer.json()["message"]


def test_a_422_does_not_echo_the_input(client: httpx.Client) -> None:
    huge = "7" * 200_000
    answer = client.post(
        "/best-response",
        content=f'{{"buyer_demand": "{huge}"}}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert huge[:1000] not in answer.text and len(answer.content) < 5000
    assert answer.json()["message"].startswith("buyer_demand: ")
    key = "k" * 50_000
    answer = client.post("/best-response", json={key: 1})
    assert answer.status_code == 422 and len(answer.content) < 5000
    assert all("input" not in e for e in answer.json()["detail"])
