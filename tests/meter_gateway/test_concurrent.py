"""A metering company uploads a whole game at once: every reading lands, whatever order the
queue relays them in (a reading pays its trades with the counterparts read before it, so its
gas depends on that order); and with ``--wait 0`` the gateway answers 202 with the queue's
request id, the reading following on chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ledger_contracts import free_port

from .conftest import SCENARIO, Market, play, start, stop


@pytest.fixture(scope="module")
def game(market: Market) -> int:
    """A fresh game, trades fixed: the session's own game stays for the other tests."""
    game = market.driver.register(SCENARIO)
    market.driver.play(game, play)
    market.driver.fix_trades(game)
    return game


def test_a_whole_game_uploaded_at_once_lands(market: Market, game: int) -> None:
    m = market
    readings = {"meter-0000": (30.0, 0.0), "meter-0001": (40.0, 0.5), "meter-0002": (0.0, 10.0)}
    with ThreadPoolExecutor(len(readings)) as pool:
        answers = list(
            pool.map(
                lambda item: m.post(
                    {"game": game, "produced_kwh": item[1][0], "consumed_kwh": item[1][1]}, item[0]
                ),
                readings.items(),
            )
        )
    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]
    posted = {
        e.args.prosumer: (e.args.producedWh, e.args.consumedWh) for e in m.readings_posted(game)
    }
    assert posted == {
        m.prosumers[0].address: (30_000, 0),
        m.prosumers[1].address: (40_000, 500),
        m.prosumers[2].address: (0, 10_000),
    }


def test_without_waiting_the_answer_is_202_and_the_reading_follows(
    market: Market, game: int
) -> None:
    m = market
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = start(
        "meter_gateway --wait 0",
        [
            "meter_gateway",
            "--rpc",
            m.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            "--deployment",
            str(m.tmp / "deployment.json"),
            "--queue",
            m.queue_url,
            "--db",
            str(m.db),
            "--port",
            str(port),
            "--wait",
            "0",
        ],
        m.tmp / "gateway-nowait.log",
        url + "/health",
        env={"METER_KEY": "0x" + bytes(m.meter.key).hex()},
    )
    try:
        answer = httpx.post(
            url + "/readings",
            json={"game": game, "produced_kwh": 0.0, "consumed_kwh": 12.0},
            headers={"Authorization": f"Bearer {m.token('meter-0003')}"},
            timeout=60,
        )
    finally:
        stop(service)
    assert answer.status_code == 202, answer.text
    out = answer.json()
    assert out["status"] == "queued" and out["tx_hash"] is None
    outcome = httpx.get(
        f"{m.queue_url}/requests/{out['request_id']}", params={"wait": 30}, timeout=60
    ).json()
    assert outcome["status"] == "mined", outcome
    assert any(
        e.args.prosumer == m.prosumers[3].address and e.args.consumedWh == 12_000
        for e in m.readings_posted(game)
    )
