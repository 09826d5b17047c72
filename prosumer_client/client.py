"""A prosumer's actions on the market, signed with its key and relayed by the queue: offer,
demand (approving its escrow first when the market has a settlement contract), bid, stand,
and a meter's reading. Refusals raise `Refused` with the decoded custom error:

    prosumer = Prosumer(relay, reader)
    prosumer.demand(3, 34.0)   # Refused: demand refused: MarketRegistrationWindowClosed(...)

Request deadlines follow the chain's clock (a test chain may run ahead of the wall clock).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ledger_contracts import (
    LedgerError,
    LedgerRevert,
    deadline_after,
    kwh_to_wh,
    load_artifact,
    pad_gas,
    price_to_micro,
)
from tx_queue.client import Outcome, RelayClient
from tx_queue.errors import RequestFailed, RequestRefused, RequestReverted

from .errors import Refused, SettlementNotDeployed
from .market import MarketReader
from .views import Contract

DEADLINE_SECONDS = 600
_WOULD_REVERT = "would revert: "


@dataclass(frozen=True)
class Settlement:
    """The market's settlement contract and its token."""

    contract: Contract
    token: Contract

    @property
    def address(self) -> str:
        return self.contract.address


class Prosumer:
    def __init__(
        self, relay: RelayClient, reader: MarketReader, *, deadline_seconds: int = DEADLINE_SECONDS
    ) -> None:
        self.relay = relay
        self.reader = reader
        self.address: str = relay.address
        self.deadline_seconds = deadline_seconds
        self._clock_offset = 0.0  # chain time - wall time, from the last sync
        self._forwarder: str | None = None
        self._settlement: Settlement | None = None
        self.timings: dict[str, float] = {}  # ms of the last send: estimate, sign, queue

    def close(self) -> None:
        self.relay.close()
        self.reader.rpc.close()

    @property
    def market(self) -> Any:
        return self.reader.fn

    def sync_clock(self, chain_time: int | None = None) -> None:
        """Learn how far the chain's clock is from ours (one RPC unless `chain_time` is given)."""
        now = time.time()
        self._clock_offset = (self.reader.chain_time() if chain_time is None else chain_time) - now

    def deadline(self) -> int:
        """`deadline_seconds` after the chain's current time, read now: in simulated time the
        chain's clock runs ahead of ours at an unknown pace, so an offset learnt earlier would
        put deadlines in the chain's past."""
        try:
            chain_now = float(self.reader.chain_time())
        except Exception:  # node unreachable: the best guess from the last sync
            chain_now = time.time() + self._clock_offset
        return deadline_after(self.deadline_seconds, chain_now)

    # ------------------------------------------------------------------ actions

    def offer(self, game_id: int, kwh: float, price: float, *, timeout: float = 60.0) -> Outcome:
        """Publish an offer and wait until it is mined."""
        call = self.market.publishOffer(game_id, kwh_to_wh(kwh), price_to_micro(price))
        return self.wait("offer", self.send("offer", call), timeout=timeout)

    def demand(self, game_id: int, kwh: float, *, timeout: float = 60.0) -> Outcome:
        """Publish a demand and wait until it is mined. With settlement, the demand escrows
        its worst-case cost: an allowance short of it is raised to it first (the approval and
        the demand are queued back to back); a wallet short of it refuses the demand."""
        wh = kwh_to_wh(kwh)
        approval = self._approve_escrow(game_id, wh)
        request = self.send("demand", self.market.publishDemand(game_id, wh))
        if approval is not None:
            self.wait("escrow approval", approval, timeout=timeout)
        return self.wait("demand", request, timeout=timeout)

    def escrow_for(self, game_id: int, wh: int) -> int | None:
        """Token base units a demand of `wh` Wh would lock now (None without settlement)."""
        settlement = self.settlement()
        if settlement is None:
            return None
        try:
            amount, _ = settlement.contract.view("escrowFor", game_id, self.address, wh)
        except LedgerRevert as exc:
            raise Refused("demand", str(exc)) from exc
        return int(amount)

    def _approve_escrow(self, game_id: int, wh: int) -> int | None:
        """Queue an approval of the escrow if the allowance is short (the chain, not this
        client, judges the demand: the window before the wallet)."""
        amount = self.escrow_for(game_id, wh)
        settlement = self._settlement
        if amount is None or settlement is None:
            return None
        if int(settlement.token.view("allowance", self.address, settlement.address)) >= amount:
            return None
        data = settlement.token.calldata("approve", settlement.address, amount)
        return self.send("escrow approval", (settlement.token.address, data))

    def post_reading(
        self,
        game_id: int,
        prosumer: str,
        produced_kwh: float,
        consumed_kwh: float,
        *,
        timeout: float = 60.0,
    ) -> Outcome:
        """A meter's reading of `prosumer` for game `game_id` (needs the meter role)."""
        settlement = self.settlement()
        if settlement is None:
            raise SettlementNotDeployed("posting a meter reading")
        data = settlement.contract.calldata(
            "postReading", game_id, prosumer, kwh_to_wh(produced_kwh), kwh_to_wh(consumed_kwh)
        )
        return self.wait(
            "reading", self.send("reading", (settlement.address, data)), timeout=timeout
        )

    def settlement(self) -> Settlement | None:
        """The market's settlement contract and token (None if it has none)."""
        if self._settlement is None:
            address = self.reader.settlement()
            if address is None:
                return None
            contract = Contract(self.reader.rpc, address, load_artifact("Settlement").abi)
            token = Contract(
                self.reader.rpc, str(contract.view("token")), load_artifact("GridToken").abi
            )
            self._settlement = Settlement(contract, token)
        return self._settlement

    def bid(self, game_id: int, round_: int, turn: int, wh_per_seller: list[int]) -> int:
        """Queue a bid for turn `turn` of round `round_` (the `GameStatus.round` and `.turn` of
        the state it was computed on); returns the request id at once (the turn ends when it is
        mined). Landing in any other turn, it is refused (`MarketStaleTurn`), never applied."""
        data = self.reader.views.calldata("bid", game_id, round_, turn, wh_per_seller)
        return self.send("bid", (self.reader.address, data), gas=self._estimate(data))

    def stand(self, game_id: int, round_: int, turn: int) -> int:
        """Queue a stand for turn `turn` of round `round_` (as `bid`)."""
        data = self.reader.views.calldata("stand", game_id, round_, turn)
        return self.send("stand", (self.reader.address, data), gas=self._estimate(data))

    # ------------------------------------------------------------------ plumbing

    def send(self, what: str, call: Any, *, gas: int | None = None) -> int:
        """Sign and queue `call`; `timings` keeps how long signing and queueing took (ms)."""
        try:
            t0 = time.perf_counter()
            signed = self.relay.sign(call, gas=gas, deadline=self.deadline())
            t1 = time.perf_counter()
            request = self.relay.submit(signed)
            t2 = time.perf_counter()
            self.timings.update(sign=(t1 - t0) * 1000, queue=(t2 - t1) * 1000)
            return request
        except RequestRefused as exc:
            if exc.status in (409, 422):
                raise Refused(what, _reason(exc.detail)) from exc
            raise

    def wait(self, what: str, request_id: int, *, timeout: float = 60.0) -> Outcome:
        try:
            return self.relay.wait(request_id, timeout=timeout)
        except RequestReverted as exc:
            raise Refused(what, str(exc)) from exc
        except RequestFailed as exc:
            raise Refused(what, f"not executed ({exc.reason})") from exc

    def _estimate(self, data: bytes) -> int | None:
        """Gas for `data` on the market as the forwarder will call it (the signer appended,
        ERC-2771), padded by the ledger's rule (`pad_gas`); None (the relay's default) if it
        cannot be estimated now. Raw RPC: the turn's hot path."""
        if self._forwarder is None:
            self._forwarder = self.relay.deployment.address("GridForwarder")
        call = {
            "from": self._forwarder,
            "to": self.reader.address,
            "data": "0x" + data.hex() + self.address[2:].lower(),
        }
        t0 = time.perf_counter()
        try:
            return pad_gas(int(self.reader.rpc.call("eth_estimateGas", [call]), 16))
        except LedgerError:
            return None
        finally:
            self.timings["estimate"] = (time.perf_counter() - t0) * 1000

    def outcome(self, request_id: int) -> Outcome:
        """The request's state now (no waiting)."""
        return self.relay.get(request_id)


def _reason(detail: Any) -> str:
    text = detail if isinstance(detail, str) else str(detail)
    return text[len(_WOULD_REVERT) :] if text.startswith(_WOULD_REVERT) else text
