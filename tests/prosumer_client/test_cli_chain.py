"""The CLI against the chain through the real queue: offer, demand (and their refusals with
the decoded custom error), status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger_contracts import Deployment, deploy_contract
from prosumer_client.cli import main

SELLER, BUYER, LATE, POOR = 12, 16, 17, 18  # dev keys of admitted prosumers nobody else uses


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_offer_demand_and_status(
    prosumer_market: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    m = prosumer_market
    flags = m.common_flags()
    seller = m.prosumers[SELLER - 10].address
    buyer = m.prosumers[BUYER - 10].address
    game = m.open_game()

    code, out, err = run(
        [
            "offer",
            "--game",
            game,
            "--kwh",
            "12.5",
            "--price",
            "0.065",
            "--json",
            "--key-file",
            m.key_file(SELLER),
            *flags,
        ],
        capsys,
    )
    assert code == 0, err
    published = json.loads(out)
    assert published["game"] == game and published["role"] == "seller"
    assert published["index"] == 0 and published["address"] == seller
    assert published["block"] > 0 and published["tx"].startswith("0x")
    offers = m.market.functions.offers(game).call()
    assert [tuple(o) for o in offers] == [(seller, 12_500, 65_000)]

    code, _, err = run(
        [
            "offer",
            "--game",
            game,
            "--kwh",
            "1",
            "--price",
            "0.3",
            "--key-file",
            m.key_file(SELLER + 1),
            *flags,
        ],
        capsys,
    )
    assert code == 1
    assert err == "error: offer refused: MarketInvalidOfferPrice(price=300000, retail=250000)\n"

    monkeypatch.setenv("PROSUMER_KEY", m.keys[BUYER])
    code, out, err = run(["demand", "--game", game, "--kwh", "8", *flags], capsys)
    assert code == 0, err
    assert out.startswith(f"demand published: game {game}, 8 kWh (buyer #0, block ")
    # The escrow was approved through the queue and locked: 8 kWh x (0.25 + 0.02 x 2 hops).
    settlement = m.deployment.contract(m.w3, "Settlement").functions
    assert settlement.escrowOf(buyer).call() == 8_000 * (250_000 + 20_000 * 2) // 1000

    monkeypatch.setenv("PROSUMER_KEY", m.keys[POOR])
    code, _, err = run(["demand", "--game", game, "--kwh", "5", *flags], capsys)
    assert code == 1
    assert err == (
        f"error: demand refused: SettlementInsufficientBalance(buyer="
        f"{m.prosumers[POOR - 10].address}, balance=0, needed=1450000)\n"
    )

    monkeypatch.setenv("PROSUMER_KEY", m.keys[m.meter])
    code, _, err = run(
        [
            "meter",
            "--game",
            game,
            "--prosumer",
            buyer,
            "--produced",
            "0",
            "--consumed",
            "8",
            *flags,
        ],
        capsys,
    )
    assert code == 1
    assert err == (f"error: reading refused: SettlementTradesNotFixed(gameId={game}, status=0)\n")

    monkeypatch.setenv("PROSUMER_KEY", m.keys[BUYER])

    code, out, err = run(["demand", "--game", game, "--kwh", "8", *flags], capsys)
    assert code == 1 and out == ""
    assert err == (
        f"error: demand refused: MarketAlreadyRegistered(gameId={game}, account={buyer})\n"
    )

    code, out, err = run(["status", *flags], capsys)  # the key's own, the latest game
    assert code == 0, err
    assert out.splitlines()[0] == f"prosumer {buyer}"
    assert f"game {game}: registration" in out
    assert "role: buyer #0, demand 8 kWh" in out
    assert f"#0 {seller}  12.5 kWh at 0.065, load 0 kWh" in out

    m.advance(31)  # past the registration window, not yet closed by the clock
    monkeypatch.setenv("PROSUMER_KEY", m.keys[LATE])
    code, _, err = run(["demand", "--game", game, "--kwh", "3", *flags], capsys)
    assert code == 1
    assert err.startswith(
        f"error: demand refused: MarketRegistrationWindowClosed(gameId={game}, registrationEnd="
    )
    m.close_registration(game, seconds=0)

    code, out, err = run(["status", "--json", "--address", buyer, "--game", game, *flags], capsys)
    assert code == 0, err
    status = json.loads(out)
    assert status["address"] == buyer and status["prosumer"]["admitted"] is True
    g = status["game"]
    assert g["phase"] == "bidding" and g["round"] == 1 and g["current_buyer"] == buyer
    assert g["role"] == "buyer" and g["demand_kwh"] == 8.0 and g["bid_kwh"] == [0.0]
    assert g["sellers"] == [
        {"index": 0, "seller": seller, "kwh": 12.5, "price": 0.065, "load_kwh": 0.0}
    ]
    assert g["epsilon_wh"] == 5 and g["grid_retail"] == 0.25

    code, out, err = run(["status", "--address", seller, "--game", game, *flags], capsys)
    assert code == 0, err
    assert "role: seller #0, offer 12.5 kWh at 0.065" in out
    assert "bidding, round 1, turn 1 of 1" in out

    code, _, err = run(["status", "--address", seller, "--game", "99", *flags], capsys)
    assert code == 1 and "there is no game 99" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["meter", "--game", "1", "--produced", "2", "--consumed", "0.5"],
        ["balance"],
        ["history", "--game", "2"],
    ],
)
def test_settlement_commands_without_settlement(
    argv: list[str],
    anvil: Any,
    w3: Any,
    operator: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forwarder = deploy_contract(w3, operator, "GridForwarder")
    market = deploy_contract(w3, operator, "Market", operator.address, forwarder.address)
    path = tmp_path / "deployment.json"
    Deployment(
        w3.eth.chain_id,
        1,
        operator.address,
        {  # a market running without settlement
            "GridForwarder": forwarder.address,
            "Market": market.address,
        },
    ).save(path)
    monkeypatch.setenv("PROSUMER_KEY", anvil.keys[19])
    code, out, err = run(
        [*argv, "--rpc", anvil.url, "--deployment", path, "--queue", "http://127.0.0.1:9"], capsys
    )
    assert code == 1 and out == ""
    assert err.startswith("error: settlement not deployed: "), err
