"""What ``POST /readings`` does, apart from HTTP: a meter's reading checked against the chain
and sent through the queue signed with the meter account's key.

    gateway.submit("meter-S001", ReadingIn(game=3, produced_kwh=36.0, consumed_kwh=0.0))

In order, each step refusing with a `Refusal` that names the problem, before anything is sent:
the meter's prosumer (``Market.meterHolder``), the game (``Market.game``), the prosumer's part
in it (``Market.participant``), the amounts (intervals inside the delivery period, at most
2^32 - 1 Wh), then ``Settlement.postReading`` itself as an ``eth_call`` from the meter account,
whose custom error (already read, trades not fixed, closing, ...) becomes the refusal. A claim
in the gateway's database then keeps a second upload of the same reading from reaching the
queue while the first is on its way.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from typing import Any

from web3 import Web3

from ledger_contracts import LedgerRevert, call, kwh_to_wh, pad_gas
from tx_queue.client import Outcome, RelayClient
from tx_queue.errors import (
    RelayError,
    RequestFailed,
    RequestRefused,
    RequestReverted,
    WaitTimeout,
)

from .errors import AlreadyRead, NotFound, Refusal, Unacceptable, Unavailable
from .meters import meter_key
from .models import INTERVAL_SECONDS, ReadingIn, ReadingOut
from .store import Store

log = logging.getLogger("meter_gateway")

MAX_READING_WH = 2**32 - 1
SELLER = 1  # IMarket.Role.Seller
# A reading pays its trades with counterparts read before it: ~50 k gas each (docs/settlement.md)
GAS_PER_COUNTERPART = 60_000
STATUS = ("Open", "FixingTrades", "TradesFixed", "Closing", "Closed")  # ISettlement.Status
_FINISHED = ("reverted", "failed")


class Gateway:
    def __init__(
        self,
        w3: Web3,
        market: Any,
        settlement: Any,
        relay: RelayClient,
        store: Store,
        *,
        wait: float = 30.0,
        max_gas: int = 5_000_000,
    ) -> None:
        self.w3 = w3
        self.market = market
        self.settlement = settlement
        self.relay = relay
        self.store = store
        self.wait = wait
        self.max_gas = max_gas
        self._sending = threading.Lock()
        self.account: str = relay.address

    # ------------------------------------------------------------------ the steps

    def submit(self, meter: str, body: ReadingIn) -> ReadingOut:
        game = body.game
        prosumer = self.holder(meter)
        registration_end, delivery_end, sellers, buyers = self.game_window(game)
        role = int(self._view(self.market.functions.participant(game, prosumer))[0])
        if not role:
            raise NotFound(
                f"prosumer {prosumer} (meter {meter!r}) is not a participant of game {game}"
            )
        produced, consumed = totals(body, registration_end, delivery_end)
        fn = self.settlement.functions.postReading(game, prosumer, produced, consumed)
        try:
            call(fn, sender=self.account)
        except LedgerRevert as exc:
            raise refusal(exc, game, prosumer) from exc
        except Exception as exc:
            raise Unavailable(f"the node cannot check the reading: {exc}") from exc
        gas = self._gas(fn, counterparts=buyers if role == SELLER else sellers)
        self._claim(game, prosumer, meter)
        try:
            request_id = self._send(fn, gas)
        except RelayError as exc:
            self.store.release(game, prosumer)
            raise Unavailable(f"the transaction queue did not take the reading: {exc}") from exc
        self.store.queued(game, prosumer, request_id)
        log.info(
            "reading queued",
            extra={
                "meter": meter,
                "prosumer": prosumer,
                "game": game,
                "produced_wh": produced,
                "consumed_wh": consumed,
                "request_id": request_id,
            },
        )
        out = ReadingOut(
            status="queued",
            meter=meter,
            prosumer=prosumer,
            game=game,
            produced_wh=produced,
            consumed_wh=consumed,
            request_id=request_id,
        )
        outcome = self._await(request_id, game, prosumer)
        if outcome is None:
            return out
        return out.model_copy(
            update={
                "status": "posted",
                "tx_hash": outcome.tx_hash,
                "block_number": outcome.block_number,
            }
        )

    def holder(self, meter: str) -> str:
        """The prosumer admitted with `meter`'s id; `NotFound` if none."""
        address = str(self._view(self.market.functions.meterHolder(meter_key(meter))))
        if int(address, 16) == 0:
            raise NotFound(
                f"meter {meter!r} is not admitted on the Market (no prosumer holds "
                f"meter id 0x{meter_key(meter).hex()})"
            )
        return Web3.to_checksum_address(address)

    def game_window(self, game: int) -> tuple[int, int, int, int]:
        """The game's delivery period (registration end, delivery end, chain time), and its
        numbers of sellers and buyers."""
        params, _prices, status = self._view(self.market.functions.game(game))
        if int(status[0]) == 0:  # Phase.None
            latest = int(self._view(self.market.functions.gameCount()))
            raise NotFound(f"game {game} does not exist (the latest game is {latest})")
        return int(params[0]), int(params[1]), int(status[2]), int(status[3])

    # ------------------------------------------------------------------ plumbing

    def _view(self, fn: Any) -> Any:
        try:
            return call(fn)
        except LedgerRevert as exc:  # a view refusing its arguments
            raise Unacceptable(f"the Market refuses to tell: {exc}") from exc
        except Exception as exc:
            raise Unavailable(f"the node cannot be reached: {exc}") from exc

    def _gas(self, fn: Any, counterparts: int) -> int:
        """The gas to sign for: the estimate now, padded (`pad_gas`), plus room for every
        counterpart whose reading may land first (a reading pays the trades with those already
        read, one transfer each), at most `max_gas`."""
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        try:
            estimate = int(
                self.w3.eth.estimate_gas(
                    {
                        "from": self.relay.forwarder,
                        "to": fn.address,
                        "data": data + bytes.fromhex(self.account[2:]),
                    }
                )
            )
        except Exception as exc:
            raise Unavailable(f"the node cannot estimate the reading's gas: {exc}") from exc
        return min(pad_gas(estimate) + GAS_PER_COUNTERPART * counterparts, self.max_gas)

    def _send(self, fn: Any, gas: int) -> int:
        """Sign and queue; one at a time, since the queue takes a signer's nonces in order
        only. A nonce refused as used or ahead (another process signs with the same key) is
        tried once more: the client has re-read the next nonce from the queue."""
        with self._sending:
            try:
                return self.relay.send(fn, gas=gas)
            except RequestRefused as exc:
                if "nonce" not in str(exc.detail):
                    raise
                log.warning(
                    "meter account's nonce moved elsewhere; signing again",
                    extra={"refusal": str(exc.detail)},
                )
                return self.relay.send(fn, gas=gas)

    def _claim(self, game: int, prosumer: str, meter: str) -> None:
        """Claim the reading in the database; a claim of an earlier upload whose request
        reverted or failed is replaced, a live one refuses this upload."""
        earlier = self.store.claim(game, prosumer, meter)
        if earlier is None:
            return
        if earlier:
            try:
                status = self.relay.get(earlier).status
            except RelayError:
                status = "unknown"
            if status in _FINISHED:
                self.store.release(game, prosumer)
                if self.store.claim(game, prosumer, meter) is None:
                    return
        raise AlreadyRead(
            f"the reading of prosumer {prosumer} for game {game} was uploaded "
            f"already and is on its way (queue request {earlier or 'pending'})"
        )

    def _await(self, request_id: int, game: int, prosumer: str) -> Outcome | None:
        """The mined outcome, or None if it is not final within `wait` seconds."""
        if self.wait <= 0:
            return None
        try:
            return self.relay.wait(request_id, timeout=self.wait)
        except WaitTimeout:
            return None
        except RequestReverted as exc:  # the chain changed between the check and the relay
            self.store.release(game, prosumer)
            revert = LedgerRevert(exc.name, exc.args_by_name)
            raise refusal(revert, game, prosumer) from exc
        except RequestFailed as exc:
            self.store.release(game, prosumer)
            raise Unavailable(
                f"the queue could not execute the reading (request {request_id}): {exc.reason}"
            ) from exc
        except RelayError as exc:
            raise Unavailable(
                f"the reading was queued (request {request_id}) but its outcome "
                f"cannot be read: {exc}"
            ) from exc


def totals(body: ReadingIn, registration_end: int, delivery_end: int) -> tuple[int, int]:
    """The reading in Wh: as given, or its intervals summed, each inside the delivery period
    [registration end, delivery end] and none overlapping another. 422 above 2^32 - 1 Wh."""
    if body.intervals is None:
        assert body.produced_kwh is not None and body.consumed_kwh is not None
        produced_kwh, consumed_kwh = body.produced_kwh, body.consumed_kwh
        where = ("produced_kwh", "consumed_kwh")
    else:
        starts = sorted((iv.start.timestamp(), k) for k, iv in enumerate(body.intervals))
        for start, k in starts:
            if start < registration_end or start + INTERVAL_SECONDS > delivery_end:
                raise Unacceptable(
                    f"intervals[{k}]: {body.intervals[k].start.isoformat()} to 15 minutes "
                    f"later is outside game {body.game}'s delivery period "
                    f"{_utc(registration_end)} to {_utc(delivery_end)}"
                )
        for (a, i), (b, j) in zip(starts, starts[1:], strict=False):
            if b - a < INTERVAL_SECONDS:
                raise Unacceptable(
                    f"intervals[{j}] overlaps intervals[{i}]: 15-minute "
                    f"intervals must start at least 15 minutes apart"
                )
        produced_kwh = math.fsum(iv.produced_kwh for iv in body.intervals)
        consumed_kwh = math.fsum(iv.consumed_kwh for iv in body.intervals)
        where = ("intervals' produced_kwh", "intervals' consumed_kwh")
    out = []
    for name, kwh in zip(where, (produced_kwh, consumed_kwh), strict=True):
        if kwh * 1000 > MAX_READING_WH + 0.5:
            raise Unacceptable(
                f"{name}: {kwh:g} kWh is above the most a reading may hold, "
                f"{MAX_READING_WH} Wh (2^32 - 1)"
            )
        out.append(kwh_to_wh(kwh))
    return out[0], out[1]


def refusal(revert: LedgerRevert, game: int, prosumer: str) -> Refusal:
    """The Settlement's custom error as the gateway's answer."""
    name, args = revert.name, revert.args_by_name
    status = args.get("status")
    stage = STATUS[int(status)] if isinstance(status, int) and status < len(STATUS) else status
    if name == "SettlementAlreadyRead":
        return AlreadyRead(
            f"the reading of prosumer {prosumer} for game {game} is already on chain ({revert})"
        )
    if name == "SettlementNotParticipant":
        return NotFound(f"prosumer {prosumer} is not a participant of game {game} ({revert})")
    if name == "SettlementTradesNotFixed":
        return Unacceptable(
            f"game {game} is not at the metering stage: its trades are not "
            f"fixed yet (settlement status {stage}); readings are accepted "
            f"from the fixing of the trades until the close starts"
        )
    if name in ("SettlementGameClosing", "SettlementGameClosed"):
        return Unacceptable(
            f"game {game}'s metering window is over: its close has started "
            f"(settlement status {stage})"
        )
    if name == "SettlementReadingTooLarge":
        return Unacceptable(f"the reading is above the most a reading may hold ({revert})")
    if name == "AccessControlUnauthorizedAccount":
        return Unavailable(
            f"the gateway's meter account lacks METER_ROLE on the Market: the "
            f"operator must grant it ({revert})"
        )
    return Unacceptable(f"the Settlement refuses the reading: {revert}")


def _utc(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
