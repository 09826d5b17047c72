"""Acting on the chain: every call goes through the transaction queue, signed with the clock's key.

One request at a time, awaited. An action the chain no longer (or not yet) accepts comes back
as a named error — `MarketWrongPhase`, `MarketTurnNotExpired`, ... — whether the queue refuses
it at intake (it simulates first) or it reverts on chain: that is "already done / not yet",
not a failure. When the fate of a request is unknown (queue unreachable mid-send, wait timed
out), the clock acts again only once the queue holds no live request of its account, so a
request sent earlier — by this process or by one killed before it — cannot make it act twice
(opening two games for one slot).
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
from web3.contract import Contract

from ledger_contracts import deadline_after
from tx_queue.client import RelayClient
from tx_queue.errors import (
    RelayUnavailable,
    RequestFailed,
    RequestRefused,
    RequestReverted,
    WaitTimeout,
)

from .clock import Executor
from .errors import ClockError, Fatal, Transient
from .logs import chain_stamp, get_logger, short
from .model import (
    Action,
    ChainView,
    CloseGame,
    CloseRegistration,
    FixTrades,
    OpenGame,
    SkipTurn,
)
from .reader import call_view, game_view
from .settlement import BENIGN as SETTLEMENT_BENIGN
from .settlement import BookStatus, Settlement, gas_remedy
from .time import ChainClock

log = get_logger()

# Named errors meaning "someone (an earlier request of ours) already did it" or "not yet".
BENIGN = frozenset(
    {
        "MarketWrongPhase",
        "MarketTurnNotExpired",
        "MarketRegistrationWindowOpen",
        "MarketRegistrationEndNotInFuture",
        *SETTLEMENT_BENIGN,
    }
)
_WOULD_REVERT = re.compile(r"would revert: (\w+)\(")
# Refusals of the queue that no retry can change, with what the operator can do about them
# (the gas one: `gas_remedy`, which depends on the call).
_TOO_MUCH_GAS = re.compile(r"gas \d+ is above the relay's limit")
_PERMANENT = (
    (
        re.compile(
            r"is not a contract of this deployment|does not trust the forwarder|"
            r"is the forwarder itself"
        ),
        "the clock and the queue must be given the same deployment file",
    ),
)
# Named reverts that mean the clock may not act at all.
_FORBIDDEN = frozenset({"AccessControlUnauthorizedAccount"})


class RelayExecutor(Executor):
    def __init__(
        self,
        relay: RelayClient,
        market: Contract,
        chain: ChainClock,
        *,
        settlement: Settlement | None = None,
        timeout: float = 60.0,
        benign: frozenset[str] = BENIGN,
    ) -> None:
        self.relay = relay
        self.market = market
        self.chain = chain
        self.settlement = settlement
        self.timeout = timeout
        self.benign = benign
        self._uncertain = True  # at start-up: a killed predecessor may have left requests
        self._http = httpx.Client(timeout=httpx.Timeout(5.0, connect=3.0))

    # -------------------------------------------------------------------- earlier requests

    def settled(self) -> bool:
        if not self._uncertain:
            return True
        url = f"{self.relay.url}/signers/{self.relay.address}/nonce"
        try:
            response = self._http.get(url)
            response.raise_for_status()
            live = list(response.json()["live"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise Transient(f"queue unavailable at {self.relay.url}: {exc}") from exc
        if live:
            log.debug(f"waiting for earlier requests of the clock (nonces {live})")
            return False
        try:
            self.relay.resync()
        except RelayUnavailable as exc:
            raise Transient(f"queue unavailable: {exc}") from exc
        self._uncertain = False
        return True

    # -------------------------------------------------------------------- actions

    def run(self, action: Action, view: ChainView, now: int) -> bool:
        call, needed = self._call(action, view)
        if needed is not None:
            self.chain.freshen(needed)
        error = self._send(call, now, action)
        if error is not None:
            name, text = error
            if name in self.benign:
                log.debug(f"{type(action).__name__}: {text} (already done or not yet)")
                return False
            if name in _FORBIDDEN:
                raise Fatal(
                    f"{type(action).__name__} refused: {text}; grant the clock's "
                    f"account {self.relay.address} CLOCK_ROLE and start it again"
                )
            raise ClockError(f"{type(action).__name__} refused: {text}")
        self._report(action)
        return True

    def _call(self, action: Action, view: ChainView) -> tuple[Any, int | None]:
        """The contract call of an action and the chain time the latest block must have
        reached for it (the queue simulates requests against the latest block)."""
        fns = self.market.functions
        game = next((g for g in view.games if g.id == getattr(action, "game_id", None)), None)
        if isinstance(action, OpenGame):
            return fns.openGame(action.params), None
        if isinstance(action, CloseRegistration):
            return fns.closeRegistration(action.game_id), (game.registration_end if game else None)
        if isinstance(action, SkipTurn):
            return fns.skipTurn(action.game_id), action.deadline + 1
        if self.settlement is None:
            raise ClockError(f"{action} needs a settlement contract; the deployment has none")
        if isinstance(action, FixTrades):
            return self.settlement.fix_trades(action.game_id, action.max_buyers), None
        if isinstance(action, CloseGame):
            return (
                self.settlement.close(action.game_id, action.max_items),
                game.delivery_end if game else None,
            )
        raise ClockError(f"not an action: {action!r}")

    def _send(self, call: Any, now: int, action: Action) -> tuple[str, str] | None:
        """Send and await one call; None if it executed, else (error name, text)."""
        ttl = math.ceil(self.timeout * self.chain.speed) + 60
        deadline = deadline_after(ttl, now)
        try:
            request_id = self.relay.send(call, deadline=deadline)
        except RequestRefused as exc:
            match = _WOULD_REVERT.search(str(exc.detail))
            if match:
                return match.group(1), str(exc.detail).removeprefix("would revert: ")
            if exc.status == 422 and _TOO_MUCH_GAS.search(str(exc.detail)):
                chunk = (
                    action.max_buyers
                    if isinstance(action, FixTrades)
                    else (action.max_items if isinstance(action, CloseGame) else None)
                )
                remedy = gas_remedy(str(exc.detail), type(action).__name__, chunk)
                raise Fatal(
                    f"the queue refuses the clock's request: {exc.detail}; {remedy}"
                ) from exc
            for pattern, remedy in _PERMANENT:
                if exc.status == 422 and pattern.search(str(exc.detail)):
                    raise Fatal(
                        f"the queue refuses the clock's request: {exc.detail}; {remedy}"
                    ) from exc
            raise Transient(f"the queue refused the request: {exc}") from exc
        except RelayUnavailable as exc:
            self._uncertain = True
            raise Transient(f"queue unavailable: {exc}") from exc
        try:
            self.relay.wait(request_id, timeout=self.timeout)
        except RequestReverted as exc:
            return exc.name, str(exc)
        except RequestFailed as exc:
            raise Transient(f"request {request_id} failed: {exc.reason}") from exc
        except (WaitTimeout, RelayUnavailable) as exc:
            self._uncertain = True
            raise Transient(f"request {request_id}: {exc}") from exc
        return None

    def _report(self, action: Action) -> None:
        if isinstance(action, OpenGame):
            game_id = int(call_view(self.market.functions.gameCount()))
            log.info(
                f"Game {game_id} opened at chain time {chain_stamp(action.start)}: "
                f"registration until {chain_stamp(action.registration_end)[11:]}, "
                f"delivery until {chain_stamp(action.delivery_end)[11:]}, "
                f"{action.round_limit} rounds, {action.turn_seconds} s turns, "
                f"epsilon {action.epsilon_wh} Wh"
            )
        elif isinstance(action, CloseRegistration):
            game = game_view(self.market, action.game_id, None)
            log.info(
                f"Registration of game {game.id} closed: {game.sellers} sellers, "
                f"{game.buyers} buyers"
            )
        elif isinstance(action, SkipTurn):
            log.info(
                f"Turn of {short(action.buyer)} skipped (game {action.game_id}, "
                f"round {action.round})"
            )
        elif isinstance(action, FixTrades | CloseGame) and self.settlement is not None:
            status, cursor = self.settlement.book(action.game_id)
            if isinstance(action, FixTrades):
                if status >= BookStatus.TRADES_FIXED:
                    log.info(f"Trades of game {action.game_id} fixed")
                else:
                    log.debug(f"Fixing trades of game {action.game_id}: {cursor} buyers so far")
            elif status == BookStatus.CLOSED:
                log.info(f"Game {action.game_id} closed")
            else:
                log.debug(f"Closing game {action.game_id}: {cursor} items so far")
