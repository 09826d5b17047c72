"""The demo's meter simulator: when a game's trades are fixed, it posts every participant's
reading for the delivery period through the queue, as an account with the meter role would.

By default delivery is full: a seller produced what it sold, a buyer consumed its demand (what
it bought from peers plus its grid import). `delivery` scales a prosumer's reading by name,
e.g. {"S001": 0.5} for a seller that delivers half, {"P002": 1.2} for a buyer that consumes
20 % more than its demand.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, EventReader
from tx_queue.client import RelayClient
from tx_queue.errors import RelayError, RequestReverted

Reading = tuple[str, int, int]  # (prosumer, produced Wh, consumed Wh)


class MeterSimulator:
    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        queue_url: str,
        meter: LocalAccount,
        names: dict[str, str],
        delivery: dict[str, float] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.market = deployment.contract(w3, "Market")
        self.settlement = deployment.contract(w3, "Settlement")
        self.relay = RelayClient(queue_url, w3, deployment, meter)
        self.names = names
        self.delivery = delivery or {}
        self.log = log
        self.read_games: set[int] = set()

    def readings(self, game_id: int) -> tuple[list[Reading], list[Reading]]:
        """(prosumer, produced Wh, consumed Wh) of every seller, and of every buyer."""
        sellers = []
        for offer in self.market.functions.offers(game_id).call():
            seller = offer[0]
            sold = int(self.settlement.functions.party(game_id, seller).call()[5])  # tradedWh
            sellers.append((seller, round(sold * self._factor(seller)), 0))
        buyers = []
        for demand in self.market.functions.demands(game_id).call():
            buyer, wh = demand[0], int(demand[1])
            buyers.append((buyer, 0, round(wh * self._factor(buyer))))
        return sellers, buyers

    def _factor(self, address: str) -> float:
        return self.delivery.get(self.names.get(address, address), 1.0)

    def post(self, game_id: int) -> None:
        """Every participant's reading through the queue, pipelined and awaited. A reading only
        records (the close pays the trades), so its gas is the same in any order. A reading the
        queue refuses or that reverts is logged with its reason, and the others still go."""
        sellers, buyers = self.readings(game_id)
        posted = self._post_all(game_id, sellers + buyers)
        self.read_games.add(game_id)
        self.log(
            f"[METER] [{_now()}] info: Posted {posted} of {len(sellers) + len(buyers)} "
            f"readings for game {game_id}"
        )

    def _post_all(self, game_id: int, readings: list[Reading]) -> int:
        """Queue every reading, then await each; returns how many executed."""
        ids = []
        # Deadlines follow the chain's clock, which runs ahead of ours in simulated time.
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + 3600
        for prosumer, produced, consumed in readings:
            call = self.settlement.functions.postReading(game_id, prosumer, produced, consumed)
            try:
                ids.append((prosumer, self.relay.send(call, deadline=deadline)))
            except RelayError as exc:
                self._refused(prosumer, exc)
        posted = 0
        for prosumer, request_id in ids:
            try:
                self.relay.wait(request_id, timeout=60)
                posted += 1
            except RelayError as exc:
                self._refused(prosumer, exc)
        return posted

    def _refused(self, prosumer: str, exc: RelayError) -> None:
        kind = "reverted" if isinstance(exc, RequestReverted) else "refused"
        self.log(
            f"[METER] [{_now()}] error: reading of {self.names.get(prosumer, prosumer)} "
            f"{kind}: {exc}"
        )

    def run(self, stop: Callable[[], bool], interval: float = 0.1) -> None:
        reader = EventReader(self.w3, self.deployment)
        last = self.deployment.block - 1
        while not stop():
            head = self.w3.eth.block_number
            if head > last:
                for event in reader.read(from_block=last + 1, to_block=head):
                    if event.name == "TradesFixed" and event.game not in self.read_games:
                        self.post(int(event.args["gameId"]))
                last = head
            time.sleep(interval)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
