"""In-process prosumers for the clock's tests: they register and bid with direct transactions
(their own keys), quickly, as a well-behaved agent would; one buyer may stay silent."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, LedgerRevert, transact


def wait_for(predicate: object, timeout: float, what: str, poll: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Players:
    w3: Web3
    deployment: Deployment
    sellers: list[LocalAccount]
    buyers: list[LocalAccount]  # the ones that bid
    silent: list[LocalAccount]  # buyers that register and never bid
    bids: dict[str, list[int]]  # buyer address -> its (constant) bid
    errors: list[str] = field(default_factory=list)
    turns: int = 0

    def __post_init__(self) -> None:
        self.market = self.deployment.contract(self.w3, "Market")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, game_id: int) -> None:
        m = self.market.functions
        for k, s in enumerate(self.sellers):
            transact(self.w3, s, m.publishOffer(game_id, 30_000 + 10_000 * k, 80_000 + k))
        for b in [*self.buyers, *self.silent]:
            transact(self.w3, b, m.publishDemand(game_id, 12_000))

    def play(self, game_id: int) -> None:
        """Bid on every turn of ours, in a thread, until the game ends or `stop`."""
        self._thread = threading.Thread(target=self._play, args=(game_id,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _play(self, game_id: int) -> None:
        by_address = {b.address: b for b in self.buyers}
        m = self.market.functions
        while not self._stop.is_set():
            try:
                status, buyer, _loads, _bid = m.gameState(game_id).call()
            except Exception as exc:  # the test ends
                self.errors.append(f"read: {exc}")
                return
            if status[0] == 3:
                return
            signer = by_address.get(buyer) if status[0] == 2 else None
            if signer is None:
                time.sleep(0.01)
                continue
            try:
                transact(self.w3, signer, m.bid(game_id, status[4], status[5], self.bids[buyer]))
                self.turns += 1
            except LedgerRevert as exc:
                if exc.name not in ("MarketNotYourTurn", "MarketStaleTurn"):  # raced with a skip
                    self.errors.append(str(exc))
            except Exception as exc:
                self.errors.append(f"bid: {exc}")
