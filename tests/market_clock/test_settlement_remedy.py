"""The clock's advice when the queue refuses a call as needing more gas than it relays: for a
settlement call, the chunk that fits (down to one item, which every game the Market accepts
fits); for any other call, the queue's limit."""

from __future__ import annotations

from market_clock.settlement import gas_remedy

REFUSAL = "gas 12000000 is above the relay's limit per request (5000000)"


def test_a_settlement_chunk_too_big_is_told_the_chunk_that_fits() -> None:
    remedy = gas_remedy(REFUSAL, "FixTrades", 20)
    assert remedy.startswith("lower --chunk from 20 to 8 or less"), remedy  # 20 x 5M / 12M
    assert remedy.endswith("or raise the queue's --max-request-gas")


def test_a_single_item_too_big_is_told_to_raise_the_queue_limit() -> None:
    remedy = gas_remedy(REFUSAL, "CloseGame", 1)
    assert "lower --chunk" not in remedy
    assert remedy.endswith("the smallest: raise the queue's --max-request-gas"), remedy


def test_a_call_that_cannot_be_split_is_not_told_to_lower_the_chunk() -> None:
    remedy = gas_remedy(REFUSAL, "OpenGame", None)
    assert remedy == "OpenGame cannot be split: raise the queue's --max-request-gas"


def test_the_chunk_advice_never_goes_below_one() -> None:
    assert gas_remedy(
        "gas 90000000 is above the relay's limit per request (5000000)", "CloseGame", 2
    ).startswith("lower --chunk from 2 to 1 or less")
