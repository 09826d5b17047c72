"""The settlement side of the clock, used only when the deployment has a "Settlement" contract
(`ISettlement.sol`): fix the trades of a game whose bidding ended (`fixTrades`, in chunks of
buyers), close it once its delivery period and the meters' window are over (`closeGame`, in
chunks of items). Progress is the contract's own `gameBook(id).status`, so it survives restarts.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from web3 import Web3

from ledger_contracts.deploy import Deployment

from .model import GameView, SettlementView
from .reader import call_view

NAME = "Settlement"

# Named errors of the settlement meaning "already done" or "not yet".
BENIGN = frozenset({
    "SettlementTradesAlreadyFixed", "SettlementGameClosed", "SettlementDeliveryNotEnded",
    "SettlementBiddingNotEnded", "SettlementTradesNotFixed",
})


class BookStatus(IntEnum):
    """`ISettlement.Status`."""

    OPEN = 0
    FIXING_TRADES = 1
    TRADES_FIXED = 2
    CLOSING = 3
    CLOSED = 4


class Settlement:
    """What the clock needs of a settlement: two calls and a view per game."""

    def fix_trades(self, game_id: int, max_buyers: int) -> Any:  # pragma: no cover
        raise NotImplementedError

    def close(self, game_id: int, max_items: int) -> Any:  # pragma: no cover
        raise NotImplementedError

    def book(self, game_id: int) -> tuple[BookStatus, int]:  # pragma: no cover
        """(status, cursor): how far fixing or closing has come."""
        raise NotImplementedError

    def view(self, game: GameView) -> SettlementView:
        status, _cursor = self.book(game.id)
        return SettlementView(fixed=status >= BookStatus.TRADES_FIXED,
                              closed=status == BookStatus.CLOSED)


class SettlementContract(Settlement):
    """Binds the clock's calls and views to the deployed settlement contract."""

    def __init__(self, contract: Any) -> None:
        self.contract = contract

    def fix_trades(self, game_id: int, max_buyers: int) -> Any:
        return self.contract.functions.fixTrades(game_id, max_buyers)

    def close(self, game_id: int, max_items: int) -> Any:
        return self.contract.functions.closeGame(game_id, max_items)

    def book(self, game_id: int) -> tuple[BookStatus, int]:
        book = call_view(self.contract.functions.gameBook(game_id))
        return BookStatus(book[0]), int(book[1])


def bind_settlement(w3: Web3, deployment: Deployment) -> SettlementContract | None:
    if NAME not in deployment.contracts:
        return None
    return SettlementContract(deployment.contract(w3, NAME))
