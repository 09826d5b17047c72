"""The settlement side of the clock, used only when the deployment has a "Settlement" contract
(`ISettlement.sol`): fix the trades of a game whose bidding ended (`fixTrades`, in chunks of
buyers), close it once its delivery period is over and every meter reading is in, or the
meters' window is over (`closeGame`, in chunks of items). Progress is the contract's own
`gameBook(id).status`, so it survives restarts.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple

from web3 import Web3

from ledger_contracts import Deployment

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


class Book(NamedTuple):
    """What the clock reads of `ISettlement.GameBook`."""

    status: BookStatus
    cursor: int
    readings: int  # participants whose meter reading is in
    fixed_at: int  # block time at which every trade was fixed (0: not yet)


class Settlement:
    """What the clock needs of a settlement: two calls and a view per game."""

    def fix_trades(self, game_id: int, max_buyers: int) -> Any:  # pragma: no cover
        raise NotImplementedError

    def close(self, game_id: int, max_items: int) -> Any:  # pragma: no cover
        raise NotImplementedError

    def book(self, game_id: int) -> tuple[BookStatus, int]:
        """(status, cursor): how far fixing or closing has come."""
        return self.book_of(game_id)[:2]  # type: ignore[return-value]

    def book_of(self, game_id: int) -> Book:  # pragma: no cover
        raise NotImplementedError

    def view(self, game: GameView) -> SettlementView:
        book = self.book_of(game.id)
        fixed = book.status >= BookStatus.TRADES_FIXED
        return SettlementView(fixed=fixed, closed=book.status == BookStatus.CLOSED,
                              fixed_at=book.fixed_at if fixed else None,
                              readings=book.readings)


class SettlementContract(Settlement):
    """Binds the clock's calls and views to the deployed settlement contract."""

    def __init__(self, contract: Any) -> None:
        self.contract = contract

    def fix_trades(self, game_id: int, max_buyers: int) -> Any:
        return self.contract.functions.fixTrades(game_id, max_buyers)

    def close(self, game_id: int, max_items: int) -> Any:
        return self.contract.functions.closeGame(game_id, max_items)

    def book_of(self, game_id: int) -> Book:
        book = call_view(self.contract.functions.gameBook(game_id))
        return Book(BookStatus(book[0]), int(book[1]), int(book[3]), int(book[8]))


def bind_settlement(w3: Web3, deployment: Deployment) -> SettlementContract | None:
    if NAME not in deployment.contracts:
        return None
    return SettlementContract(deployment.contract(w3, NAME))
