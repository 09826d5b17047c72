"""The relay client: its signatures verify on the real forwarder; retries are bounded; answers
of the queue become outcomes and readable errors (the queue faked with httpx.MockTransport)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, free_port
from tx_queue.client import RelayClient
from tx_queue.errors import RelayUnavailable, RequestFailed, RequestRefused, RequestReverted


def fake_queue(handler) -> httpx.Client:  # noqa: ANN001
    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://queue")


def request_body(status: str, **extra: object) -> dict[str, object]:
    return {
        "id": 7,
        "status": status,
        "tx_hash": "0xab",
        "block_number": 12,
        "error": None,
        "reason": None,
        **extra,
    }


def test_signed_requests_verify_on_the_forwarder(
    w3: Web3, deployment: Deployment, operator: LocalAccount
) -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/nonce"):
            return httpx.Response(200, json={"next_nonce": 0})
        seen.append(json.loads(request.content))
        return httpx.Response(202, json=request_body("queued", id=len(seen)))

    market = deployment.contract(w3, "Market")
    forwarder = deployment.contract(w3, "GridForwarder")
    with RelayClient("http://queue", w3, deployment, operator, http=fake_queue(handler)) as c:
        first = c.send(market.functions.setGridPrices(200_000, 50_000))
        second = c.send(market.functions.setGridPrices(210_000, 50_000), gas=123_456)
    assert (first, second) == (1, 2)
    assert [b["nonce"] for b in seen] == [0, 1]  # tracked locally: pipelined
    assert seen[1]["gas"] == 123_456 and seen[0]["gas"] > 21_000  # estimated
    assert seen[0]["idempotency_key"] != seen[1]["idempotency_key"]
    request = (
        seen[0]["from"],
        seen[0]["to"],
        0,
        seen[0]["gas"],
        seen[0]["deadline"],
        bytes.fromhex(seen[0]["data"][2:]),
        bytes.fromhex(seen[0]["signature"][2:]),
    )
    assert forwarder.functions.verify(request).call() is True


def test_retries_are_bounded_and_keep_the_idempotency_key(
    w3: Web3, deployment: Deployment, operator: LocalAccount
) -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/nonce"):
            return httpx.Response(200, json={"next_nonce": 5})
        keys.append(json.loads(request.content)["idempotency_key"])
        if len(keys) < 3:
            return httpx.Response(503, json={"detail": "node unavailable"})
        return httpx.Response(202, json=request_body("queued"))

    with RelayClient(
        "http://queue", w3, deployment, operator, retries=3, backoff=0.01, http=fake_queue(handler)
    ) as c:
        assert c.send((deployment.address("Market"), b"\x01\x02\x03\x04"), gas=50_000) == 7
    assert len(keys) == 3 and len(set(keys)) == 1


def test_an_unreachable_queue_fails_fast(
    w3: Web3, deployment: Deployment, operator: LocalAccount
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with (
        RelayClient(url, w3, deployment, operator, retries=2, backoff=0.01, timeout=1.0) as c,
        pytest.raises(RelayUnavailable, match="3 attempts"),
    ):
        c.send((deployment.address("Market"), b"\x00" * 4), gas=50_000)
    assert time.monotonic() - started < 10


def test_outcomes_become_results_or_readable_errors(w3: Web3, deployment: Deployment) -> None:
    answers = {
        1: request_body("mined"),
        2: request_body(
            "reverted",
            error={
                "name": "MarketBidExceedsDemand",
                "args": {"total": 50000, "demand": 34000},
                "text": "MarketBidExceedsDemand(total=50000, demand=34000)",
            },
        ),
        3: request_body("failed", reason="deadline passed while the request was queued"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(422, json={"detail": "would revert: MarketZeroAmount()"})
        if request.url.path.endswith("/nonce"):
            return httpx.Response(200, json={"next_nonce": 0})
        return httpx.Response(200, json=answers[int(request.url.path.rsplit("/", 1)[1])])

    signer = Account.create()
    with RelayClient("http://queue", w3, deployment, signer, http=fake_queue(handler)) as c:
        assert c.wait(1).tx_hash == "0xab"
        with pytest.raises(RequestReverted) as reverted:
            c.wait(2)
        assert str(reverted.value) == "MarketBidExceedsDemand(total=50000, demand=34000)"
        assert reverted.value.args_by_name == {"total": 50000, "demand": 34000}
        with pytest.raises(RequestFailed, match="deadline passed"):
            c.wait(3)
        assert c.wait(2, check=False).status == "reverted"
        with pytest.raises(RequestRefused, match="MarketZeroAmount") as refused:
            c.send((deployment.address("Market"), b"\x00" * 4), gas=50_000)
        assert refused.value.status == 422
