"""One game driven in-process, every prosumer's key held here: set up the market, open a game,
register offers and demands, play the turns with a best-response function, until it ends; then,
when the deployment has a settlement, settle it: fix the trades, post a meter reading per
prosumer (full delivery unless told otherwise), let the delivery period pass, close.

This is what the ledger tests and the gas benchmark use; the real market runs every prosumer
in its own process through the transaction queue (`python -m demo`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ..chain import transact
from ..deployment import MAX_UINT256, Deployment
from ..game import EndReason
from ..units import kwh_to_wh, price_to_micro, to_wh_bid
from .scenario import Scenario

# (demand kWh, seller prices, seller capacities kWh, loads of the others kWh, hops, fee, grid)
Floats = Sequence[float]
BestResponse = Callable[[float, Floats, Floats, Floats, Floats, float, float | None], Floats]

END_REASONS = {r.value: r.label for r in EndReason}
SETTLEMENT_CLOSED = 4  # ISettlement.Status.Closed
TRADES_FIXED = 2  # ISettlement.Status.TradesFixed

# The scripted operator is the grid: its wallet is topped up to this before a close, so it can
# pay the grid exports of any scenario game (base units: 10,000 currency units).
OPERATOR_FLOAT = 10_000 * 1_000_000

# A meter reading (produced Wh, consumed Wh) by prosumer address; None: no reading posted.
Readings = Mapping[str, tuple[int, int] | None]


@dataclass
class GameRun:
    game_id: int
    rounds: int
    reason: str
    allocation_wh: list[list[int]]  # buyer (turn order) x seller (offer order)
    buyer_order: list[str]
    sellers: list[str]
    turns: int
    seconds: float
    gas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class SettlementRun:
    game_id: int
    readings: dict[str, tuple[int, int] | None]  # as posted, by prosumer address
    fix_calls: int
    close_calls: int
    gas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


class ScriptedMarket:
    """Holds the operator's (also the clock's and the meter's) and every prosumer's key."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        operator: LocalAccount,
        prosumers: Sequence[LocalAccount],
    ) -> None:
        self.w3 = w3
        self.market: Contract = deployment.contract(w3, "Market")
        self.operator = operator
        self.prosumers = list(prosumers)
        self.gas: dict[str, list[int]] = defaultdict(list)
        # Minting and approvals of the harness (not market calls): kept apart from `gas`.
        self.funding_gas: dict[str, list[int]] = defaultdict(list)
        settled = "Settlement" in deployment.contracts
        self.settlement: Contract | None = (
            deployment.contract(w3, "Settlement") if settled else None
        )
        self.token: Contract | None = deployment.contract(w3, "GridToken") if settled else None

    def send(
        self, label: str, signer: LocalAccount, fn: Any, gas: dict[str, list[int]] | None = None
    ) -> TxReceipt:
        receipt = cast(TxReceipt, transact(self.w3, signer, fn))
        (self.gas if gas is None else gas)[label].append(int(receipt["gasUsed"]))
        return receipt

    def setup(self, sc: Scenario) -> None:
        """Admit the scenario's prosumers and configure zones and prices (once per market)."""
        m, op = self.market, self.operator
        if not m.functions.hasRole(m.functions.CLOCK_ROLE().call(), op.address).call():
            self.send(
                "grantRole", op, m.functions.grantRole(m.functions.CLOCK_ROLE().call(), op.address)
            )
        flat = [d for row in sc.hop_matrix for d in row]
        self.send("setHopDistances", op, m.functions.setHopDistances(len(sc.hop_matrix), flat))
        self.send(
            "setGridPrices",
            op,
            m.functions.setGridPrices(
                price_to_micro(sc.grid_retail), price_to_micro(sc.grid_feed_in)
            ),
        )
        self.send(
            "setTransmissionFee", op, m.functions.setTransmissionFee(price_to_micro(sc.fee_per_hop))
        )
        zones = list(sc.seller_zones) + list(sc.buyer_zones)
        for k, (who, zone) in enumerate(zip(self.prosumers[: sc.prosumers], zones, strict=True)):
            if m.functions.prosumer(who.address).call()[2]:  # already admitted
                continue
            meter = Web3.keccak(text=f"meter-{k:04d}")
            self.send("admit", op, m.functions.admit(who.address, meter, zone))
        meter_role = m.functions.METER_ROLE().call()
        if self.settlement is not None and not m.functions.hasRole(meter_role, op.address).call():
            self.send("grantRole", op, m.functions.grantRole(meter_role, op.address))

    def fund(self, who: LocalAccount, amount: int) -> None:
        """Mint `who` up to `amount` base units and let the settlement draw on them (no-op
        without settlement). Gas in `funding_gas`, under "mint" and "approve"."""
        if self.token is None or self.settlement is None:
            return
        t = self.token.functions
        balance = int(t.balanceOf(who.address).call())
        if balance < amount:
            self.send(
                "mint", self.operator, t.mint(who.address, amount - balance), self.funding_gas
            )
        if int(t.allowance(who.address, self.settlement.address).call()) < amount:
            self.send(
                "approve", who, t.approve(self.settlement.address, MAX_UINT256), self.funding_gas
            )

    def register(self, sc: Scenario) -> int:
        """Open a game, publish every offer and demand, close registration. With settlement,
        a buyer short of its escrow is minted the difference and approves first."""
        m = self.market
        now = self.w3.eth.get_block("latest")["timestamp"]
        registration_end = now + sc.registration_seconds
        params = (
            registration_end,
            registration_end + sc.delivery_seconds,
            sc.round_limit,
            sc.turn_seconds,
            sc.epsilon_wh,
        )
        self.send("openGame", self.operator, m.functions.openGame(params))
        game_id = int(m.functions.gameCount().call())
        sellers = self.prosumers[: len(sc.sellers)]
        buyers = self.prosumers[len(sc.sellers) : sc.prosumers]
        for who, (kwh, price) in zip(sellers, sc.sellers, strict=True):
            self.send(
                "publishOffer",
                who,
                m.functions.publishOffer(game_id, kwh_to_wh(kwh), price_to_micro(price)),
            )
        for who, kwh in zip(buyers, sc.buyers, strict=True):
            if self.settlement is not None:
                escrow, _ = self.settlement.functions.escrowFor(
                    game_id, who.address, kwh_to_wh(kwh)
                ).call()
                self.fund(who, int(escrow))
            self.send("publishDemand", who, m.functions.publishDemand(game_id, kwh_to_wh(kwh)))
        advance_time(self.w3, sc.registration_seconds)
        self.send("closeRegistration", self.operator, m.functions.closeRegistration(game_id))
        return game_id

    def play(
        self,
        game_id: int,
        best_response: BestResponse,
        on_turn: Callable[[int, str, list[int]], None] | None = None,
        opening: dict[str, Sequence[float]] | None = None,
    ) -> GameRun:
        """Each buyer in turn submits its best response (in whole Wh) until the game ends.

        With `opening` (kWh per seller, by buyer address), a buyer's first bid is that instead
        (e.g. its share of the equilibrium: the `equilibrium` strategy of prosumer agents)."""
        m = self.market
        by_address = {p.address: p for p in self.prosumers}
        offers = m.functions.offers(game_id).call()
        prices = [o[2] / 1e6 for o in offers]
        caps = [o[1] / 1000 for o in offers]
        demand = {d[0]: d[1] for d in m.functions.demands(game_id).call()}
        _, game_prices, _ = m.functions.game(game_id).call()
        grid, fee = game_prices[0] / 1e6, game_prices[2] / 1e6
        hops = {b: m.functions.hopsToSellers(game_id, b).call() for b in demand}
        start, turns = time.perf_counter(), 0
        while True:
            state = m.functions.gameState(game_id).call()
            status, buyer, loads, current = state
            if status[0] != 2:  # Bidding
                break
            others = [(load - mine) / 1000 for load, mine in zip(loads, current, strict=True)]
            if opening is not None and status[4] == 1:
                x = opening[buyer]
            else:
                x = best_response(
                    demand[buyer] / 1000, prices, caps, others, hops[buyer], fee, grid
                )
            bid = to_wh_bid(x, demand[buyer], [c * 1000 for c in caps], others)
            if on_turn:
                on_turn(status[4], buyer, bid)
            self.send(
                f"bid@{len(offers)}",
                by_address[buyer],
                m.functions.bid(game_id, status[4], status[5], bid),
            )
            turns += 1
        seconds = time.perf_counter() - start
        _, _, status = m.functions.game(game_id).call()
        return GameRun(
            game_id=game_id,
            rounds=int(status[4]),
            reason=END_REASONS[int(status[1])],
            allocation_wh=[list(r) for r in m.functions.allocation(game_id).call()],
            buyer_order=[d[0] for d in m.functions.demands(game_id).call()],
            sellers=[o[0] for o in offers],
            turns=turns,
            seconds=seconds,
            gas=self.gas,
        )

    # ------------------------------------------------------------------ settlement

    def _settlement(self) -> Contract:
        if self.settlement is None:
            raise ValueError("this deployment has no Settlement contract")
        return self.settlement

    def _status(self, game_id: int) -> tuple[int, int]:
        book = self._settlement().functions.gameBook(game_id).call()
        return int(book[0]), int(book[1])

    def fix_trades(self, game_id: int, chunk: int = 50) -> int:
        """Fix the trades of a game whose bidding ended, `chunk` items per call (sellers, then
        buyers, a buyer one item per 128 sellers); the calls made."""
        calls = 0
        while self._status(game_id)[0] < TRADES_FIXED:
            self.send(
                "fixTrades", self.operator, self._settlement().functions.fixTrades(game_id, chunk)
            )
            calls += 1
        return calls

    def full_delivery(self, game_id: int) -> dict[str, tuple[int, int] | None]:
        """Everyone did what it declared: each seller produced its whole offer, each buyer
        consumed its whole demand (what it did not buy from peers comes from the grid)."""
        m = self.market.functions
        readings: dict[str, tuple[int, int] | None] = {
            o[0]: (int(o[1]), 0) for o in m.offers(game_id).call()
        }
        readings.update({d[0]: (0, int(d[1])) for d in m.demands(game_id).call()})
        return readings

    def post_readings(
        self, game_id: int, readings: Readings | None = None, sellers_first: bool = True
    ) -> dict[str, tuple[int, int] | None]:
        """Post every participant's reading: `readings` where given, full delivery otherwise
        (None: no reading). Sellers first by default; a reading only records, the close pays."""
        posted = {**self.full_delivery(game_id), **(readings or {})}
        m = self.market.functions
        sellers = [o[0] for o in m.offers(game_id).call()]
        buyers = [d[0] for d in m.demands(game_id).call()]
        for who in sellers + buyers if sellers_first else buyers + sellers:
            value = posted[who]
            if value is not None:
                self.send(
                    "postReading",
                    self.operator,
                    self._settlement().functions.postReading(game_id, who, value[0], value[1]),
                )
        return posted

    def close(self, game_id: int, chunk: int = 200, operator_float: int = OPERATOR_FLOAT) -> int:
        """Let the delivery period pass and close the game, `chunk` items per call; the calls.
        The operator's wallet is first topped up to `operator_float` to fund grid exports."""
        self.fund(self.operator, operator_float)
        (_, delivery_end, *_), _, _ = self.market.functions.game(game_id).call()
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        if now < delivery_end:
            advance_time(self.w3, delivery_end - now)
        calls = 0
        while self._status(game_id)[0] < SETTLEMENT_CLOSED:
            self.send(
                "closeGame", self.operator, self._settlement().functions.closeGame(game_id, chunk)
            )
            calls += 1
        return calls

    def settle(
        self,
        game_id: int,
        readings: Readings | None = None,
        *,
        sellers_first: bool = True,
        fix_chunk: int = 50,
        close_chunk: int = 200,
    ) -> SettlementRun:
        """Fix the trades, post the readings, close: the whole settlement of a game."""
        fix_calls = self.fix_trades(game_id, fix_chunk)
        posted = self.post_readings(game_id, readings, sellers_first)
        close_calls = self.close(game_id, close_chunk)
        return SettlementRun(
            game_id=game_id,
            readings=posted,
            fix_calls=fix_calls,
            close_calls=close_calls,
            gas=self.gas,
        )


def advance_time(w3: Web3, seconds: int) -> None:
    """Anvil only: move the chain's clock forward and mine a block."""
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
