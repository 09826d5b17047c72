"""The original demo game settled on a real Anvil: with full delivery, with one seller delivering
half, with one buyer consuming more than it bought (and more than its wallet holds). Every
wallet is checked to the base unit against the settlement rules computed here from the game's
inputs, independently of the contracts, the driver and any library."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, Event, EventReader, LedgerRevert, deploy
from ledger_contracts.testing import DEMO, OPERATOR_FLOAT, ScriptedMarket, advance_time
from tests.ledger_contracts.test_demo_game import exact_best_response

G = 250_000  # DEMO grid retail, micro-units per kWh
F = 50_000  # DEMO feed-in
T = 20_000  # DEMO transmission fee per hop


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def cover(wh: int, traded: int, metered: int) -> int:
    return wh if metered >= traded else wh * metered // traded


@dataclass
class Game:
    """The game as the chain ended it (inputs of settlement)."""

    sellers: list[str]
    caps: list[int]
    prices: list[int]
    buyers: list[str]  # turn order
    demands: list[int]
    alloc: list[list[int]]  # buyers x sellers, Wh
    zone: dict[str, int]


@dataclass
class Expected:
    escrow: dict[str, int] = field(default_factory=dict)
    locked: dict[str, int] = field(default_factory=dict)
    change: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # after escrow -> end
    income: tuple[int, int, int] = (0, 0, 0)  # transmission, imports from escrow, dust
    debts: dict[str, int] = field(default_factory=dict)
    trades: int = 0


def expected(
    game: Game, readings: dict[str, tuple[int, int] | None], operator: str, wallets: dict[str, int]
) -> Expected:
    """Settlement of `game` by the documented rules, from balances `wallets` taken once every
    escrow was locked. Wallets pay what they owe the grid within their balance (allowances are
    unlimited here); what they cannot pay is a debt."""
    e = Expected()
    hop = DEMO.hop_matrix
    n_b, n_s = len(game.buyers), len(game.sellers)
    loads = [sum(game.alloc[i][j] for i in range(n_b)) for j in range(n_s)]
    energy = [
        min(p * (c + load) // c, G)
        for p, c, load in zip(game.prices, game.caps, loads, strict=True)
    ]
    unit: dict[tuple[int, int], tuple[int, int]] = {}  # (energy price, transmission per kWh)
    bought = [sum(row) for row in game.alloc]
    for i, b in enumerate(game.buyers):
        max_hop = max(hop[game.zone[b]])
        e.escrow[b] = ceil_div(game.demands[i] * (G + T * max_hop), 1000)
        above_retail_milli = 0
        for j, s in enumerate(game.sellers):
            if game.alloc[i][j]:
                h = min(hop[game.zone[b]][game.zone[s]], max_hop)
                unit[i, j] = (energy[j], T * h)
                above_retail_milli += game.alloc[i][j] * max(energy[j] + T * h - G, 0)
                e.trades += 1
        # the worst bill for a consumption up to the demand stays locked until close
        worst = ceil_div(game.demands[i] * G + above_retail_milli, 1000)
        e.locked[b] = min(e.escrow[b], worst)
        e.change[b] += e.escrow[b] - e.locked[b]

    charged = [0] * n_b
    got = [0] * n_b
    sent = [0] * n_s
    paid = transmission_milli = 0
    for i, b in enumerate(game.buyers):
        for j, s in enumerate(game.sellers):
            rb, rs = readings.get(b), readings.get(s)
            if not game.alloc[i][j] or rb is None or rs is None:
                continue
            x = game.alloc[i][j]
            y = min(cover(x, loads[j], rs[0]), cover(x, bought[i], rb[1]))
            price, fee = unit[i, j]
            charged[i] += y * (price + fee)
            transmission_milli += y * fee
            got[i] += y
            sent[j] += y

    def grid(who: str, owed: int, owed_to: int) -> None:
        net = owed_to - owed
        if net > 0:
            e.change[who] += net
            e.change[operator] -= net
            return
        pay = min(-net, wallets[who] + e.change[who])
        e.change[who] -= pay
        e.change[operator] += pay
        if pay < -net:
            e.debts[who] = -net - pay

    # a seller is paid once at close for all its delivered energy, rounded down
    for j, s in enumerate(game.sellers):
        e.change[s] += sent[j] * energy[j] // 1000
        paid += sent[j] * energy[j] // 1000

    spent = imports = 0
    for i, b in enumerate(game.buyers):
        spent_b = ceil_div(charged[i], 1000)
        available = e.locked[b] - spent_b
        r = readings.get(b)
        # a buyer's bill (trades + import) is rounded up once
        import_charge = ceil_div(charged[i] + (r[1] - got[i]) * G, 1000) - spent_b if r else 0
        export_credit = r[0] * F // 1000 if r else 0
        to_grid = min(import_charge, available)
        e.change[b] += available - to_grid
        grid(b, import_charge - to_grid, export_credit)
        spent += spent_b
        imports += to_grid
    income = spent + imports - paid
    e.change[operator] += income
    e.income = (transmission_milli // 1000, imports, income - transmission_milli // 1000 - imports)
    for j, s in enumerate(game.sellers):
        r = readings.get(s)
        if r:
            grid(s, ceil_div(r[1] * G, 1000), (r[0] - sent[j]) * F // 1000)
    return e


# ---------------------------------------------------------------------- fixtures and helpers


@dataclass
class Played:
    driver: ScriptedMarket
    game_id: int
    game: Game
    reader: EventReader


@pytest.fixture(scope="module")
def played_once(w3: Web3, operator: LocalAccount, dev_accounts: list[LocalAccount]) -> Played:
    """The demo game registered (escrow locked) and played to convergence, once per module."""
    deployment = deploy(w3, operator)
    driver = ScriptedMarket(w3, deployment, operator, dev_accounts[1:12])
    driver.setup(DEMO)
    game_id = driver.register(DEMO)
    driver.play(game_id, exact_best_response)
    m = driver.market.functions
    offers = m.offers(game_id).call()
    demands = m.demands(game_id).call()
    accounts = driver.prosumers
    zones = list(DEMO.seller_zones) + list(DEMO.buyer_zones)
    game = Game(
        sellers=[o[0] for o in offers],
        caps=[o[1] for o in offers],
        prices=[o[2] for o in offers],
        buyers=[d[0] for d in demands],
        demands=[d[1] for d in demands],
        alloc=[list(r) for r in m.allocation(game_id).call()],
        zone={a.address: z for a, z in zip(accounts, zones, strict=True)},
    )
    return Played(driver, game_id, game, EventReader(w3, deployment))


@pytest.fixture
def played(w3: Web3, played_once: Played) -> Iterator[Played]:
    """The played demo game, fresh for each test: the chain goes back to it afterwards."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    played_once.driver.gas.clear()
    yield played_once
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


def balances(p: Played) -> dict[str, int]:
    token = p.driver.token
    assert token is not None
    who = [*p.game.sellers, *p.game.buyers, p.driver.operator.address]
    return {a: int(token.functions.balanceOf(a).call()) for a in who}


def settle_and_check(p: Played, readings: dict[str, tuple[int, int] | None]) -> list[Event]:
    """Settle with `readings` (full delivery elsewhere) and check every wallet, the events and
    the end state; returns the game's events."""
    driver, game = p.driver, p.game
    settlement, token = driver.settlement, driver.token
    assert settlement is not None and token is not None
    operator = driver.operator.address
    driver.fund(driver.operator, OPERATOR_FLOAT)  # so close() mints nothing more
    supply = int(token.functions.totalSupply().call())
    before = balances(p)
    posted = {
        **{s: (c, 0) for s, c in zip(game.sellers, game.caps, strict=True)},
        **{b: (0, d) for b, d in zip(game.buyers, game.demands, strict=True)},
        **readings,
    }
    run = driver.settle(p.game_id, readings)
    assert run.readings == posted
    want = expected(game, posted, operator, before)

    after = balances(p)
    for who in after:
        assert after[who] - before[who] == want.change[who], who
    assert int(token.functions.balanceOf(settlement.address).call()) == 0
    assert int(token.functions.totalSupply().call()) == supply
    for b in game.buyers:
        assert int(settlement.functions.escrowOf(b).call()) == 0
    book = settlement.functions.gameBook(p.game_id).call()
    assert (book[0], book[9]) == (4, 0)  # Closed, holding nothing

    events = list(p.reader.read(game=p.game_id))
    by_name: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        by_name[ev.name].append(ev)
    assert {ev.args["buyer"]: ev.args["amount"] for ev in by_name["EscrowLocked"]} == want.escrow
    assert {
        ev.args["buyer"]: ev.args["locked"] for ev in by_name["BuyerTradesFixed"]
    } == want.locked
    assert len(by_name["TradeFixed"]) == want.trades
    income = by_name["GameIncomePaid"][0].args
    assert (income["transmission"], income["imports"], income["dust"]) == want.income
    assert {ev.args["debtor"]: ev.args["amount"] for ev in by_name["DebtRecorded"]} == want.debts
    assert [ev.name for ev in events][-1] == "GameClosed"
    # Contribution metrics: the readings were added to the market's records.
    for who, value in posted.items():
        if value is not None:
            record = driver.market.functions.prosumer(who).call()
            assert (record[4], record[5]) == value
    return events


# ---------------------------------------------------------------------- the three cases


def test_demo_settled_with_full_delivery(played: Played) -> None:
    events = settle_and_check(played, {})
    delivered = sum(ev.args["wh"] for ev in events if ev.name == "TradeDelivered")
    assert delivered == sum(map(sum, played.game.alloc))
    gas = played.driver.gas
    assert len(gas["postReading"]) == len(DEMO.sellers) + len(DEMO.buyers)
    assert len(gas["fixTrades"]) == 1 and len(gas["closeGame"]) == 1


def test_demo_settled_with_a_seller_delivering_half(played: Played) -> None:
    game = played.game
    loads = [sum(row[j] for row in game.alloc) for j in range(len(game.sellers))]
    j = max(range(len(loads)), key=loads.__getitem__)
    events = settle_and_check(played, {game.sellers[j]: (loads[j] // 2, 0)})
    to_seller = sum(
        ev.args["wh"]
        for ev in events
        if ev.name == "TradeDelivered" and ev.args["seller"] == game.sellers[j]
    )
    assert loads[j] // 2 - len(game.buyers) < to_seller <= loads[j] // 2


def test_demo_settled_with_a_buyer_consuming_more_than_it_bought(played: Played) -> None:
    buyer = played.game.buyers[0]
    account = next(a for a in played.driver.prosumers if a.address == buyer)
    played.driver.fund(account, 50_000_000)  # 50 tokens in its wallet for the extra import
    # 100 kWh beyond its demand (25 tokens): beyond what its escrow covers (its demand at retail)
    events = settle_and_check(played, {buyer: (0, played.game.demands[0] + 100_000)})
    grid = next(
        ev.args for ev in events if ev.name == "GridSettled" and ev.args["prosumer"] == buyer
    )
    assert grid["importWh"] >= 100_000
    assert any(ev.name == "GridPaid" and ev.args["payer"] == buyer for ev in events)


def test_import_beyond_the_wallet_is_a_recorded_debt(played: Played) -> None:
    buyer = played.game.buyers[-1]
    events = settle_and_check(played, {buyer: (0, 2_000_000)})  # 2 MWh at 0.25: 500 tokens
    debts = [ev.args for ev in events if ev.name == "DebtRecorded"]
    operator = played.driver.operator.address
    assert [(d["debtor"], d["creditor"]) for d in debts] == [(buyer, operator)]


def test_missing_readings_refund_the_trades(played: Played) -> None:
    seller = played.game.sellers[1]
    settle_and_check(played, {seller: None})


# ---------------------------------------------------------------------- refusals


def test_settlement_refusals_are_named(w3: Web3, played: Played) -> None:
    driver, game_id = played.driver, played.game_id
    s = driver.settlement
    assert s is not None
    op = driver.operator
    driver.fix_trades(game_id)
    with pytest.raises(LedgerRevert) as refused:
        driver.send("fixTrades", op, s.functions.fixTrades(game_id, 10))
    assert refused.value.name == "SettlementTradesAlreadyFixed"
    seller = played.game.sellers[0]
    driver.send("postReading", op, s.functions.postReading(game_id, seller, 1, 0))
    with pytest.raises(LedgerRevert) as refused:
        driver.send("postReading", op, s.functions.postReading(game_id, seller, 1, 0))
    assert refused.value.name == "SettlementAlreadyRead"
    with pytest.raises(LedgerRevert) as refused:
        driver.send("closeGame", op, s.functions.closeGame(game_id, 10))
    assert refused.value.name == "SettlementDeliveryNotEnded"
    advance_time(w3, DEMO.delivery_seconds + DEMO.registration_seconds)
    with pytest.raises(LedgerRevert) as refused:  # a prosumer is no meter
        driver.send(
            "postReading", driver.prosumers[0], s.functions.postReading(game_id, seller, 1, 0)
        )
    assert refused.value.name == "AccessControlUnauthorizedAccount"


def test_demand_without_tokens_is_refused_and_not_recorded(
    w3: Web3, deployment: Deployment, operator: LocalAccount, dev_accounts: list[LocalAccount]
) -> None:
    driver = ScriptedMarket(w3, deployment, operator, dev_accounts[1:12])
    driver.setup(DEMO)
    m = driver.market.functions
    now = w3.eth.get_block("latest")["timestamp"]
    driver.send("openGame", operator, m.openGame((now + 60, now + 960, 5, 60, 5)))
    buyer = dev_accounts[5]
    with pytest.raises(LedgerRevert) as refused:
        driver.send("publishDemand", buyer, m.publishDemand(1, 10_000))
    assert refused.value.name == "SettlementInsufficientBalance"
    assert refused.value.args_by_name["needed"] == ceil_div(10_000 * (G + T * 2), 1000)  # zone 0
    assert m.demands(1).call() == []
