"""The wallet library: a prosumer's balances and trade history read from a settled game."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, deploy
from ledger_contracts.testing import Scenario, ScriptedMarket
from prosumer_client.errors import SettlementNotDeployed
from prosumer_client.wallet import Wallet, format_balances, format_history

# Two sellers, three buyers over the default three zones; one round of greedy bids.
SMALL = Scenario(
    sellers=((10.0, 0.08), (6.0, 0.12)),
    buyers=(5.0, 4.0, 3.0),
    seller_zones=(0, 2),
    buyer_zones=(0, 1, 2),
    round_limit=1,
)


def greedy(
    demand: float,
    prices: Sequence[float],
    caps: Sequence[float],
    others: Sequence[float],
    hops: Sequence[float],
    fee: float,
    grid: float | None,
) -> list[float]:
    """Cheapest seller first, as much as it has left."""
    x = [0.0] * len(prices)
    for j in sorted(range(len(prices)), key=lambda k: prices[k] + fee * hops[k]):
        x[j] = min(demand - sum(x), caps[j] - others[j])
    return x


@dataclass
class Settled:
    driver: ScriptedMarket
    deployment: Deployment
    game_id: int
    escrow_while_open: dict[str, int]
    allocation: list[list[int]]
    buyers: list[str]
    sellers: list[str]


@pytest.fixture(scope="module")
def settled(w3: Web3, operator: LocalAccount, dev_accounts: list[LocalAccount]) -> Settled:
    deployment = deploy(w3, operator)
    driver = ScriptedMarket(w3, deployment, operator, dev_accounts[1:6])
    driver.setup(SMALL)
    game_id = driver.register(SMALL)
    escrow: dict[str, int] = {
        str(a.address): Wallet(w3, deployment, a.address).balances().escrow
        for a in dev_accounts[3:6]
    }
    run = driver.play(game_id, greedy)
    driver.settle(game_id)
    return Settled(
        driver, deployment, game_id, escrow, run.allocation_wh, run.buyer_order, run.sellers
    )


def test_balances_show_wallet_and_locked_escrow(w3: Web3, settled: Settled) -> None:
    buyer = settled.buyers[0]
    assert settled.escrow_while_open[buyer] > 0  # locked while the game ran
    balances = Wallet(w3, settled.deployment, buyer).balances()
    assert balances.escrow == 0  # released at close
    token = settled.driver.token
    assert token is not None
    assert balances.wallet == token.functions.balanceOf(buyer).call()
    assert balances.total == balances.wallet
    data = balances.to_dict()
    assert data["wallet"] == pytest.approx(balances.wallet / 1e6)
    assert data["base_units"] == {"wallet": balances.wallet, "escrow": 0}
    text = format_balances(balances)
    assert buyer in text and "escrow" in text


def test_history_of_a_buyer_lists_its_trades(w3: Web3, settled: Settled) -> None:
    i = 0
    buyer = settled.buyers[i]
    trades = Wallet(w3, settled.deployment, buyer).history()
    row = settled.allocation[i]
    assert [(t.seller, t.wh) for t in trades] == [
        (s, wh) for s, wh in zip(settled.sellers, row, strict=True) if wh
    ]
    for t in trades:
        assert (t.game, t.buyer, t.side(buyer)) == (settled.game_id, buyer, "bought")
        assert t.unit_price == t.energy_price + 20_000 * t.hops
        assert t.total == pytest.approx(t.wh * t.unit_price / 1e9)
        assert t.delivered_wh == t.wh  # full delivery
        assert t.paid_to_seller == t.wh * t.energy_price // 1000
        block = w3.eth.get_block(t.block)
        assert t.date == datetime.fromtimestamp(block["timestamp"], tz=UTC)


def test_history_of_a_seller_and_by_game(w3: Web3, settled: Settled) -> None:
    seller = settled.sellers[0]
    wallet = Wallet(w3, settled.deployment, seller)
    trades = wallet.history()
    sold = [row[0] for row in settled.allocation if row[0]]
    assert [t.wh for t in trades] == sold
    assert {t.side(seller) for t in trades} == {"sold"}
    assert wallet.history(game=settled.game_id) == trades
    assert wallet.history(game=settled.game_id + 1) == []


def test_history_as_table_and_json(w3: Web3, settled: Settled) -> None:
    buyer = settled.buyers[1]
    trades = Wallet(w3, settled.deployment, buyer).history()
    table = format_history(trades, me=buyer)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["date", "(UTC)", "game", "side"]
    assert len(lines) == 2 + len(trades) + 1  # header, rule, rows, totals
    assert all("bought" in line for line in lines[2 : 2 + len(trades)])
    data = json.loads(json.dumps([t.to_dict() for t in trades]))
    assert [d["energy_kwh"] for d in data] == [t.wh / 1000 for t in trades]
    assert data[0]["date"].endswith("+00:00")
    assert data[0]["price_per_kwh"] == trades[0].unit_price / 1e6


def test_prosumer_without_trades(
    w3: Web3, settled: Settled, dev_accounts: list[LocalAccount]
) -> None:
    stranger = dev_accounts[17].address
    wallet = Wallet(w3, settled.deployment, stranger)
    assert wallet.history() == []
    assert format_history([]) == "no trades"
    assert wallet.balances().escrow == 0


def test_wallet_needs_settlement(w3: Web3, settled: Settled) -> None:
    bare = Deployment(
        chain_id=settled.deployment.chain_id,
        block=settled.deployment.block,
        operator=settled.deployment.operator,
        contracts={"Market": settled.deployment.address("Market")},
    )
    with pytest.raises(SettlementNotDeployed):
        Wallet(w3, bare, settled.buyers[0])
