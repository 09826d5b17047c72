"""The queue's body limit (`--max-body-bytes`) and its 422s, over real HTTP: a body over the
limit is a 413 naming the limit and changes nothing; a malformed field is a 422 naming it
without echoing the input back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from tx_queue.settings import RELAY_DEV_KEY_INDEX

from .conftest import Env, make_env


@pytest.fixture(scope="module")
def small(
    w3: Web3, dev_accounts: list[LocalAccount], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """A queue that accepts bodies of at most 8 KiB."""
    e = make_env(
        w3,
        dev_accounts[0],
        dev_accounts[RELAY_DEV_KEY_INDEX],
        tmp_path_factory.mktemp("tx_queue_small"),
        "--max-body-bytes",
        "8192",
    )
    yield e
    e.queue.stop()


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"from": "'
    for _ in range(total // 1024):
        yield b"a" * 1024
    yield b'"}'


def test_a_body_over_the_limit_is_413_and_changes_nothing(small: Env) -> None:
    before = httpx.get(f"{small.url}/health").json()["queue"]["counts"]
    answer = httpx.post(f"{small.url}/requests", json={"data": "0x" + "ab" * 5000})
    assert answer.status_code == 413, answer.text
    assert answer.json()["message"] == "request body too large: the limit is 8 KiB"
    chunked = httpx.post(
        f"{small.url}/requests",
        content=_chunks(64 * 1024),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413 and "8 KiB" in chunked.json()["message"]
    assert httpx.get(f"{small.url}/health").json()["queue"]["counts"] == before


def test_a_malformed_field_is_named_not_echoed(small: Env) -> None:
    value = "0x" + "ab" * 3000  # under the limit, far too long for an address
    answer = httpx.post(f"{small.url}/requests", json={"from": value, "to": small.relay})
    assert answer.status_code == 422, answer.text
    assert value[:100] not in answer.text and len(answer.content) < 4000
    body = answer.json()
    assert body["message"].startswith("from: ")
    assert all("input" not in e for e in body["detail"])
    assert ["body", "from"] in [e["loc"] for e in body["detail"]]


def test_the_default_limit_is_one_mib(env: Env) -> None:
    answer = httpx.post(
        f"{env.url}/requests",
        content=b"x" * (1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413 and "1 MiB" in answer.json()["message"]
