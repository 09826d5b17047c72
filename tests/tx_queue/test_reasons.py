"""Why a request reverted inside a mined batch, read from a callTracer trace (pure logic: the
trace shapes are Anvil's; the chain tests cover the decoded custom errors end to end)."""

from __future__ import annotations

from tx_queue import forward as fw
from tx_queue.ledger import Ledger

SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TARGET = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def request(gas: int, data: bytes) -> fw.ForwardRequest:
    return fw.ForwardRequest(SIGNER, TARGET, 0, gas, 2**40, data, b"\x01" * 65)


def call(
    req: fw.ForwardRequest,
    error: str,
    output: str = "0x",
    calls: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    return {
        "type": "CALL",
        "to": TARGET.lower(),
        "input": "0x" + req.forwarded_calldata.hex(),
        "error": error,
        "output": output,
        "calls": calls or [],
    }


def test_a_nested_out_of_gas_is_named_not_left_an_empty_revert() -> None:
    """A buyer's reading that pays a seller: the token transfer runs out of gas, and the
    reading reverts with no data. That is out of gas, and says so."""
    starved, bare, direct = (
        request(100_501, b"\x01"),
        request(90_000, b"\x02"),
        request(50_000, b"\x03"),
    )
    transfer = {"type": "CALL", "to": "0x" + "11" * 20, "error": "out of gas", "output": "0x"}
    trace = {
        "calls": [
            call(starved, "execution reverted", calls=[transfer]),
            call(
                bare, "execution reverted", calls=[{"type": "STATICCALL", "to": "0x" + "22" * 20}]
            ),
            call(direct, "out of gas"),
        ]
    }
    reasons = Ledger._reasons_from_trace(trace, [starved, bare, direct])
    assert reasons[starved.request_hash].name == "OutOfGas"
    assert reasons[starved.request_hash].text == "OutOfGas(gas=100501) (in a nested call)"
    assert reasons[bare.request_hash].name == "EmptyRevert"
    assert reasons[bare.request_hash].text == "EmptyRevert() (execution reverted)"
    assert reasons[direct.request_hash].text == "OutOfGas(gas=50000)"
