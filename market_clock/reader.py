"""Reading the market into a `ChainView`: the game count and every game from the oldest one the
clock may still have work with.

Where that oldest game is, is found once at start-up by walking back from the latest game
until `lookback` games in a row are finished (games are opened in time order and each is
finished within a few periods, so an unfinished game behind that many finished ones does not
happen), then kept as a low-water mark that only moves forward.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from web3.contract import Contract

from .errors import Transient
from .model import ChainView, EndReason, GameView, Phase, SettlementView

LOOKBACK = 8


class SettlementReader(Protocol):
    def view(self, game: GameView) -> SettlementView: ...


def call_view(fn: Any) -> Any:
    try:
        return fn.call()
    except Exception as exc:  # the node is down or answers nonsense
        raise Transient(f"node unavailable: {exc}") from exc


def game_view(market: Contract, game_id: int, settlement: SettlementReader | None) -> GameView:
    params, _prices, status = call_view(market.functions.game(game_id))
    registration_end, delivery_end, round_limit, turn_seconds, _epsilon = params
    phase = Phase(status[0])
    buyer = None
    if phase == Phase.BIDDING:
        buyer = call_view(market.functions.gameState(game_id))[1]
    view = GameView(
        id=game_id,
        phase=phase,
        registration_end=registration_end,
        delivery_end=delivery_end,
        round_limit=round_limit,
        turn_seconds=turn_seconds,
        end_reason=EndReason(status[1]),
        sellers=status[2],
        buyers=status[3],
        round=status[4],
        turn=status[5],
        turn_deadline=status[6],
        current_buyer=buyer,
    )
    if settlement is not None and phase == Phase.ENDED:
        view = replace(view, settlement=settlement.view(view))
    return view


class Reader:
    def __init__(
        self,
        market: Contract,
        settlement: SettlementReader | None = None,
        *,
        lookback: int = LOOKBACK,
    ) -> None:
        self.market = market
        self.settlement = settlement
        self.lookback = lookback
        self.low: int | None = None  # oldest game that may be unfinished

    def game(self, game_id: int) -> GameView:
        return game_view(self.market, game_id, self.settlement)

    def read(self) -> ChainView:
        count = int(call_view(self.market.functions.gameCount()))
        if self.low is None:
            self.low = self._oldest_unfinished(count)
        games = tuple(self.game(i) for i in range(self.low, count + 1))
        self.low = next((g.id for g in games if not g.done), count + 1)
        latest = games[-1] if games else (self.game(count) if count else None)
        return ChainView(game_count=count, games=games, latest=latest)

    def _oldest_unfinished(self, count: int) -> int:
        oldest, streak = count + 1, 0
        for game_id in range(count, 0, -1):
            if self.game(game_id).done:
                streak += 1
                if streak >= self.lookback:
                    break
            else:
                streak, oldest = 0, game_id
        return oldest
