"""The buyer's decision on its turn, pure (no chain, no HTTP): given the game's fixed terms,
the turn's state and a best-response function, wait, bid (what, in whole Wh) or stand.
Also the game's fixed terms as a buyer reads them once registration closed, and its share of
the equilibrium (the `equilibrium` strategy's opening bid)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from ledger_contracts import to_wh_bid, wh_to_kwh

from .errors import ProsumerError
from .market import GameState, MarketReader
from .solver import BestResponseQuery, OptimizerClient

# best-response: every bid is a best response. equilibrium: the first bid is the buyer's share
# of the game's equilibrium (computed from public data), then best responses: the game then
# converges in about two rounds instead of a dozen.
STRATEGIES = ("best-response", "equilibrium")


@dataclass(frozen=True)
class TurnContext:
    """A buyer's fixed terms in one game, known once registration closed."""

    game_id: int
    demand_wh: int
    prices: tuple[float, ...]  # per kWh, offer order
    caps_wh: tuple[int, ...]
    hops: tuple[int, ...]
    fee: float  # per kWh per hop
    grid: float | None  # retail price: the buyer's fallback
    epsilon_wh: int
    order: tuple[str, ...] = ()  # the buyers in turn order (lower case)
    position: int = 0  # this buyer's place in `order`

    def turns_until_mine(self, current_buyer: str) -> int | None:
        """How many turns pass before this buyer's, from `current_buyer`'s (0: it is mine)."""
        try:
            current = self.order.index(current_buyer.lower())
        except ValueError:
            return None
        return (self.position - current) % len(self.order)

    def query(self, state: GameState) -> BestResponseQuery:
        others = tuple(
            wh_to_kwh(load - mine)
            for load, mine in zip(state.loads_wh, state.current_bid_wh, strict=True)
        )
        return BestResponseQuery(
            wh_to_kwh(self.demand_wh),
            self.prices,
            tuple(wh_to_kwh(c) for c in self.caps_wh),
            others,
            tuple(float(h) for h in self.hops),
            self.fee,
            self.grid,
        )

    @classmethod
    def load(cls, reader: MarketReader, game_id: int, buyer: str) -> TurnContext:
        info = reader.game(game_id)
        offers = reader.offers(game_id)
        demands = reader.demands(game_id)  # in turn order once registration closed
        order = tuple(d.buyer.lower() for d in demands)
        if buyer.lower() not in order:
            raise ProsumerError(f"{buyer} has no demand in game {game_id}")
        position = order.index(buyer.lower())
        demand = demands[position].wh
        return cls(
            game_id,
            demand,
            tuple(o.price for o in offers),
            tuple(o.wh for o in offers),
            reader.hops_to_sellers(game_id, buyer),
            info.prices.transmission_fee,
            info.prices.retail,
            info.params.epsilon_wh,
            order,
            position,
        )


def equilibrium_share(
    reader: MarketReader, optimizer: OptimizerClient, ctx: TurnContext
) -> tuple[float, ...]:
    """This buyer's row of the game's equilibrium (kWh per seller), from the public data:
    every demand, offer and buyer-to-seller hop distance (one batch of reads, one per buyer)."""
    demands = reader.demands(ctx.game_id)
    hops = reader.hops_of(ctx.game_id, [d.buyer for d in demands])
    allocation = optimizer.equilibrium(
        [d.kwh for d in demands],
        ctx.prices,
        [wh_to_kwh(c) for c in ctx.caps_wh],
        [[float(h) for h in row] for row in hops],
        ctx.fee,
        ctx.grid,
    )
    mine = [d.buyer.lower() for d in demands].index(ctx.order[ctx.position])
    return tuple(allocation[mine])


class Action(Enum):
    WAIT = "wait"  # not this buyer's turn (or not bidding yet)
    ENDED = "ended"  # bidding is over
    BID = "bid"
    STAND = "stand"


@dataclass(frozen=True)
class Decision:
    action: Action
    bid_wh: tuple[int, ...] = ()
    change_wh: int = 0  # largest |new - standing| entry of the best response
    best_kwh: tuple[float, ...] = ()
    query: BestResponseQuery | None = None


BestResponseFn = Callable[[BestResponseQuery], Sequence[float]]


def decide(ctx: TurnContext, state: GameState, me: str, best_response: BestResponseFn) -> Decision:
    """What `me` does now: wait, or bid its best response in whole Wh (never above its demand
    nor a seller's free capacity), or stand if that moves no entry by more than epsilon."""
    if state.status.phase == "ended":
        return Decision(Action.ENDED)
    if not state.is_turn_of(me):
        return Decision(Action.WAIT)
    query = ctx.query(state)
    best = tuple(float(v) for v in best_response(query))
    bid = tuple(to_wh_bid(best, ctx.demand_wh, ctx.caps_wh, query.used_capacities))
    change = max((abs(b - c) for b, c in zip(bid, state.current_bid_wh, strict=True)), default=0)
    action = Action.STAND if change <= ctx.epsilon_wh else Action.BID
    return Decision(action, bid, change, best, query)


def fallback(state: GameState, me: str) -> Decision:
    """Without a best response (bidding keeps failing): stand on my turn, else wait."""
    if state.status.phase == "ended":
        return Decision(Action.ENDED)
    return Decision(Action.STAND if state.is_turn_of(me) else Action.WAIT)
