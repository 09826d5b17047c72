"""The settlement side of the clock, used only when the deployment has a "Settlement" contract
(`ISettlement.sol`): fix the trades of a game whose bidding ended (`fixTrades`, in chunks of
items: sellers, then buyers), close it once its delivery period is over and every meter
reading is in, or the meters' window is over (`closeGame`, in chunks of items). Progress is the
contract's own `gameBook(id).status`, so it survives restarts.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any, NamedTuple

from web3 import Web3

from ledger_contracts import Deployment

from .model import GameView, SettlementView
from .reader import call_view

NAME = "Settlement"

# Named errors of the settlement meaning "already done" or "not yet".
BENIGN = frozenset(
    {
        "SettlementTradesAlreadyFixed",
        "SettlementGameClosed",
        "SettlementDeliveryNotEnded",
        "SettlementBiddingNotEnded",
        "SettlementTradesNotFixed",
    }
)


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

    def fix_trades(self, game_id: int, max_items: int) -> Any:  # pragma: no cover
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
        return SettlementView(
            fixed=fixed,
            closed=book.status == BookStatus.CLOSED,
            fixed_at=book.fixed_at if fixed else None,
            readings=book.readings,
        )


class SettlementContract(Settlement):
    """Binds the clock's calls and views to the deployed settlement contract."""

    def __init__(self, contract: Any) -> None:
        self.contract = contract

    def fix_trades(self, game_id: int, max_items: int) -> Any:
        return self.contract.functions.fixTrades(game_id, max_items)

    def close(self, game_id: int, max_items: int) -> Any:
        return self.contract.functions.closeGame(game_id, max_items)

    def book_of(self, game_id: int) -> Book:
        book = call_view(self.contract.functions.gameBook(game_id))
        return Book(BookStatus(book[0]), int(book[1]), int(book[3]), int(book[8]))


# What one settlement item is (ISettlement: a buyer counts as one item per this many sellers).
SELLERS_PER_ITEM = 128
_TOO_MUCH_GAS = re.compile(r"gas (\d+) is above the relay's limit per request \((\d+)\)")


def gas_remedy(detail: str, call: str, chunk: int | None) -> str:
    """What the operator can do when the queue refuses a call of the clock as needing more gas
    than it relays per request (`detail`, the queue's refusal). A settlement call (`chunk` items
    per call) shrinks with its chunk down to one item: a seller, or one buyer's trades with up
    to 128 sellers, so every call of any game the Market accepts fits a few million gas; any
    other call cannot be split."""
    raise_limit = "raise the queue's --max-request-gas"
    if chunk is None:
        return f"{call} cannot be split: {raise_limit}"
    item = f"a seller, or a buyer's trades with up to {SELLERS_PER_ITEM} sellers"
    if chunk <= 1:
        return f"{call} is already one item per call ({item}), the smallest: {raise_limit}"
    found = _TOO_MUCH_GAS.search(detail)
    fits = max(1, chunk * int(found.group(2)) // int(found.group(1))) if found else 1
    return (
        f"lower --chunk from {chunk} to {fits} or less (settlement items per call: {item}) "
        f"or {raise_limit}"
    )


def bind_settlement(w3: Web3, deployment: Deployment) -> SettlementContract | None:
    if NAME not in deployment.contracts:
        return None
    return SettlementContract(deployment.contract(w3, NAME))
