"""A prosumer's actions on the market, signed with its key and relayed by the queue: offer,
demand, bid, stand. Refusals raise `Refused` with the decoded custom error:

    prosumer = Prosumer(relay, reader)
    prosumer.demand(3, 34.0)   # Refused: demand refused: MarketRegistrationWindowClosed(...)

Request deadlines follow the chain's clock (a test chain may run ahead of the wall clock).
"""

from __future__ import annotations

import time
from typing import Any

from eth_abi import encode as abi_encode
from web3 import Web3

from ledger_contracts.errors import LedgerError
from ledger_contracts.units import kwh_to_wh, price_to_micro

from .errors import Refused
from .market import MarketReader
from .relay import Outcome, RelayClient, RequestFailed, RequestRefused, RequestReverted

DEADLINE_SECONDS = 600
_WOULD_REVERT = "would revert: "
_BID = bytes(Web3.keccak(text="bid(uint256,uint256[])")[:4])
_STAND = bytes(Web3.keccak(text="stand(uint256)")[:4])


class Prosumer:
    def __init__(self, relay: RelayClient, reader: MarketReader, *,
                 deadline_seconds: int = DEADLINE_SECONDS) -> None:
        self.relay = relay
        self.reader = reader
        self.address: str = relay.address
        self.deadline_seconds = deadline_seconds
        self._clock_offset = 0.0  # chain time - wall time, from the last sync
        self._forwarder: str | None = None
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
        self._clock_offset = (self.reader.chain_time() if chain_time is None else
                              chain_time) - now

    def deadline(self) -> int:
        now = time.time()
        return int(max(now, now + self._clock_offset)) + self.deadline_seconds

    # ------------------------------------------------------------------ actions

    def offer(self, game_id: int, kwh: float, price: float, *, timeout: float = 60.0
              ) -> Outcome:
        """Publish an offer and wait until it is mined."""
        call = self.market.publishOffer(game_id, kwh_to_wh(kwh), price_to_micro(price))
        return self.wait("offer", self.send("offer", call), timeout=timeout)

    def demand(self, game_id: int, kwh: float, *, timeout: float = 60.0) -> Outcome:
        """Publish a demand and wait until it is mined."""
        call = self.market.publishDemand(game_id, kwh_to_wh(kwh))
        return self.wait("demand", self.send("demand", call), timeout=timeout)

    def bid(self, game_id: int, wh_per_seller: list[int]) -> int:
        """Queue a bid; returns the request id at once (the turn ends when it is mined)."""
        data = _BID + abi_encode(["uint256", "uint256[]"], [game_id, wh_per_seller])
        return self.send("bid", (self.reader.address, data), gas=self._estimate(data))

    def stand(self, game_id: int) -> int:
        data = _STAND + abi_encode(["uint256"], [game_id])
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
        ERC-2771), padded like the relay client pads; None (the relay's default) if it
        cannot be estimated now. Raw RPC: the turn's hot path."""
        if self._forwarder is None:
            self._forwarder = self.relay.deployment.address("GridForwarder")
        call = {"from": self._forwarder, "to": self.reader.address,
                "data": "0x" + data.hex() + self.address[2:].lower()}
        t0 = time.perf_counter()
        try:
            return int(self.reader.rpc.call("eth_estimateGas", [call]), 16) * 5 // 4 + 20_000
        except LedgerError:
            return None
        finally:
            self.timings["estimate"] = (time.perf_counter() - t0) * 1000

    def outcome(self, request_id: int) -> Outcome:
        """The request's state now (no waiting)."""
        return self.relay.get(request_id)


def _reason(detail: Any) -> str:
    text = detail if isinstance(detail, str) else str(detail)
    return text[len(_WOULD_REVERT):] if text.startswith(_WOULD_REVERT) else text
