"""POST /readings over real HTTP, against a real queue on Anvil: a reading lands on chain as a
`ReadingPosted` event; every refusal is the right status with a message naming the problem, and
leaves the meter account's queue nonce and the chain's readings as they were."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from meter_gateway import Store

from .conftest import SCENARIO, Market


def window(m: Market, game: int) -> tuple[int, int]:
    params, _, _ = m.driver.market.functions.game(game).call()
    return int(params[0]), int(params[1])


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refused(
    m: Market, answer: httpx.Response, status: int, *words: str, before: tuple[int, int]
) -> None:
    assert answer.status_code == status, answer.text
    message = answer.json()["message"]
    for word in words:
        assert word in message, message
    assert m.snapshot() == before, "a refused reading reached the queue or the chain"


def test_a_reading_is_posted_on_chain(market: Market) -> None:
    m = market
    seller = m.prosumers[0]  # meter-0000
    nonce = m.meter_nonce()
    answer = m.post({"game": m.game, "produced_kwh": 29.5, "consumed_kwh": 0.25}, "meter-0000")
    assert answer.status_code == 201, answer.text + m.diagnostics()
    out = answer.json()
    assert out["status"] == "posted"
    assert (out["prosumer"], out["produced_wh"], out["consumed_wh"]) == (seller.address, 29500, 250)
    events = [e for e in m.readings_posted(m.game) if e.args.prosumer == seller.address]
    assert len(events) == 1
    assert (events[0].args.producedWh, events[0].args.consumedWh) == (29500, 250)
    assert events[0].transactionHash.to_0x_hex() == out["tx_hash"]
    assert m.meter_nonce() == nonce + 1


def test_intervals_are_summed(market: Market) -> None:
    m = market
    buyer = m.prosumers[2]  # meter-0002
    start, end = window(m, m.game)
    intervals = [
        {"start": iso(start + 900 * k), "produced_kwh": 0.001, "consumed_kwh": 2.5}
        for k in range(4)
    ]
    answer = m.post({"game": m.game, "intervals": intervals}, "meter-0002")
    assert answer.status_code == 201, answer.text
    assert (answer.json()["produced_wh"], answer.json()["consumed_wh"]) == (4, 10_000)
    (event,) = [e for e in m.readings_posted(m.game) if e.args.prosumer == buyer.address]
    assert (event.args.producedWh, event.args.consumedWh) == (4, 10_000)
    assert end == start + 3600


def test_a_duplicate_is_refused(market: Market) -> None:
    m = market
    body = {"game": m.game, "produced_kwh": 40.0, "consumed_kwh": 0.0}
    assert m.post(body, "meter-0001").status_code == 201
    before = m.snapshot()
    refused(
        m,
        m.post(body, "meter-0001"),
        409,
        "already on chain",
        m.prosumers[1].address,
        before=before,
    )


def test_no_token_is_refused(market: Market) -> None:
    m = market
    before = m.snapshot()
    answer = m.post({"game": m.game, "produced_kwh": 1.0, "consumed_kwh": 1.0})
    refused(m, answer, 401, "no bearer token", before=before)
    assert answer.headers["www-authenticate"] == "Bearer"
    answer = m.post(
        {"game": m.game, "produced_kwh": 1.0, "consumed_kwh": 1.0},
        headers={"Authorization": "Basic bWV0ZXI6cGFzcw=="},
    )
    refused(m, answer, 401, "no bearer token", before=before)


def test_a_wrong_token_is_refused(market: Market) -> None:
    m = market
    before = m.snapshot()
    wrong = m.token("meter-0003")[:-2] + "xx"
    refused(
        m,
        m.post({"game": m.game, "produced_kwh": 1.0, "consumed_kwh": 1.0}, token=wrong),
        401,
        "unknown or revoked",
        before=before,
    )


def test_a_meter_not_admitted_is_refused(market: Market) -> None:
    m = market
    before = m.snapshot()
    refused(
        m,
        m.post({"game": m.game, "produced_kwh": 1.0, "consumed_kwh": 1.0}, "meter-nobody"),
        404,
        "'meter-nobody' is not admitted",
        before=before,
    )


def test_a_prosumer_outside_the_game_is_refused(market: Market) -> None:
    m = market
    before = m.snapshot()
    refused(
        m,
        m.post({"game": m.game, "produced_kwh": 1.0, "consumed_kwh": 1.0}, "meter-idle"),
        404,
        "not a participant of game",
        before=before,
    )


def test_an_unknown_game_is_refused(market: Market) -> None:
    m = market
    before = m.snapshot()
    refused(
        m,
        m.post({"game": 999, "produced_kwh": 1.0, "consumed_kwh": 1.0}, "meter-0003"),
        404,
        "game 999 does not exist",
        before=before,
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"produced_kwh": 4294968.0, "consumed_kwh": 0.0}, ("produced_kwh", "2^32 - 1")),
        ({"produced_kwh": 0.0, "consumed_kwh": 1e12}, ("consumed_kwh", "4294967295 Wh")),
    ],
)
def test_a_reading_too_large_is_refused(
    market: Market, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    m = market
    before = m.snapshot()
    refused(m, m.post({"game": m.game, **body}, "meter-0003"), 422, *words, before=before)


def test_intervals_summing_too_large_are_refused(market: Market) -> None:
    m = market
    start, _ = window(m, m.game)
    intervals = [
        {"start": iso(start + 900 * k), "produced_kwh": 2_000_000.0, "consumed_kwh": 0.0}
        for k in range(3)
    ]
    before = m.snapshot()
    refused(
        m,
        m.post({"game": m.game, "intervals": intervals}, "meter-0003"),
        422,
        "intervals' produced_kwh",
        "2^32 - 1",
        before=before,
    )


@pytest.mark.parametrize(
    ("offsets", "words"),
    [
        ([0, 900, 3600], ("intervals[2]", "outside game", "delivery period")),
        ([-900], ("intervals[0]", "outside game")),
        ([0, 300], ("intervals[1] overlaps intervals[0]",)),
        ([900, 900], ("overlaps",)),
    ],
)
def test_intervals_outside_the_delivery_period_are_refused(
    market: Market, offsets: list[int], words: tuple[str, ...]
) -> None:
    m = market
    start, _ = window(m, m.game)
    intervals = [
        {"start": iso(start + k), "produced_kwh": 0.0, "consumed_kwh": 1.0} for k in offsets
    ]
    before = m.snapshot()
    refused(
        m,
        m.post({"game": m.game, "intervals": intervals}, "meter-0003"),
        422,
        *words,
        before=before,
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"produced_kwh": 1.0}, ("consumed_kwh",)),
        ({"produced_kwh": -1.0, "consumed_kwh": 0.0}, ("produced_kwh", "greater than or equal")),
        ({"produced_kwh": "lots", "consumed_kwh": 0.0}, ("produced_kwh",)),
        (
            {"produced_kwh": 1.0, "consumed_kwh": 1.0, "meter": "meter-0000"},
            ("meter: is not a field",),
        ),
        (
            {
                "produced_kwh": 1.0,
                "consumed_kwh": 1.0,
                "intervals": [
                    {"start": "2026-12-03T10:00:00Z", "produced_kwh": 1, "consumed_kwh": 1}
                ],
            },
            ("not both",),
        ),
        (
            {"intervals": [{"start": "2026-12-03T10:00:00", "produced_kwh": 1, "consumed_kwh": 1}]},
            ("intervals[0].start", "timezone"),
        ),
        ({"intervals": []}, ("intervals",)),
        ({"game": 0, "produced_kwh": 1.0, "consumed_kwh": 1.0}, ("game",)),
    ],
)
def test_a_malformed_reading_is_refused(
    market: Market, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    m = market
    before = m.snapshot()
    refused(m, m.post({"game": m.game, **body}, "meter-0003"), 422, *words, before=before)


def test_a_body_that_is_not_json_is_refused(market: Market) -> None:
    m = market
    before = m.snapshot()
    answer = httpx.post(
        m.gateway_url + "/readings",
        content=b"{game: 1",
        headers={
            "Authorization": f"Bearer {m.token('meter-0003')}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    refused(m, answer, 422, "not valid JSON", before=before)


def test_an_upload_on_its_way_is_refused(market: Market) -> None:
    """Two uploads racing: the second finds the first's claim in the gateway's database (here
    left by hand, as if its request were still being relayed) and never reaches the queue."""
    m = market
    buyer = m.prosumers[3].address  # meter-0003: not read yet
    assert Store(m.db).claim(m.game, buyer, "meter-0003") is None
    try:
        before = m.snapshot()
        refused(
            m,
            m.post({"game": m.game, "produced_kwh": 0.0, "consumed_kwh": 12.0}, "meter-0003"),
            409,
            "uploaded already",
            "on its way",
            before=before,
        )
    finally:
        Store(m.db).release(m.game, buyer)


def test_a_game_not_at_the_metering_stage_is_refused(market: Market) -> None:
    """A game still bidding (its trades not fixed), then the first game once its close has
    started: both outside the metering window."""
    m = market
    bidding = m.driver.register(SCENARIO)
    before = m.snapshot()
    refused(
        m,
        m.post({"game": bidding, "produced_kwh": 1.0, "consumed_kwh": 0.0}, "meter-0000"),
        422,
        f"game {bidding} is not at the metering stage",
        "not fixed",
        before=before,
    )
    m.driver.close(m.game)  # the delivery period passes, the clock closes the first game
    before = m.snapshot()
    refused(
        m,
        m.post({"game": m.game, "produced_kwh": 0.0, "consumed_kwh": 12.0}, "meter-0003"),
        422,
        f"game {m.game}'s metering window is over",
        "status Closed",
        before=before,
    )
