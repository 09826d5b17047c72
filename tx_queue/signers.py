"""Whom the queue relays for, and how much: the signers the ledger knows, each with a share.

The Market is the registry: a signer is a *role holder* if it holds the Market's
`DEFAULT_ADMIN_ROLE`, `CLOCK_ROLE` or `METER_ROLE`, a *prosumer* if it is admitted (and not
revoked), and otherwise unknown: refused with 403, nothing stored. What the Market says of a
signer is kept for `ttl` seconds, so a prosumer admitted or revoked is served or refused
within that time.

Role holders (the market's own clock and meter, the operator) are not limited here and are
relayed first (the store's `priority`). A prosumer may have at most `max_waiting` requests
queued or in flight, may ask for at most `gas_per_window` gas (the sum of its requests' `gas`)
per `gas_window` seconds, and is refused while `revert_limit` of its requests reverted on chain
within `revert_window` seconds; each is a 429 naming the limit and when to retry. Prosumers
together fill at most `prosumer_depth` places of the queue, keeping the rest for the roles.
The counts are read from the queue's database, so they hold across a restart.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledger_contracts import NodeUnavailable, RpcError

from .errors import Forbidden, Throttled
from .ledger import Ledger, as_bytes
from .store import Store

Kind = Literal["role", "prosumer"]
ROLES = {"admin": bytes(32), "clock": keccak(text="CLOCK_ROLE"), "meter": keccak(text="METER_ROLE")}
_SEL_HAS_ROLE = keccak(text="hasRole(bytes32,address)")[:4]
_SEL_PROSUMER = keccak(text="prosumer(address)")[:4]
_CACHE_MOST = 100_000  # signers remembered; beyond, the expired ones are forgotten


@dataclass(frozen=True)
class Limits:
    ttl: float = 2.0
    max_waiting: int = 16
    gas_per_window: int = 25_000_000
    gas_window: float = 60.0
    revert_limit: int = 5
    revert_window: float = 60.0
    prosumer_depth: int = 9_000


@dataclass
class Refusals:
    unknown: int = 0
    depth: int = 0
    waiting: int = 0
    gas: int = 0
    reverts: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class Signers:
    """The signers the Market knows (cached `ttl` seconds) and the prosumers' shares."""

    ledger: Ledger
    store: Store
    limits: Limits
    refused: Refusals = field(default_factory=Refusals)
    _known: dict[str, tuple[float, Kind | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def market(self) -> str:
        return self.ledger.deployment.address("Market")

    def kind(self, signer: str) -> Kind:
        """ "role" or "prosumer"; raises `Forbidden` for a signer the Market does not know."""
        now = time.monotonic()
        with self._lock:
            cached = self._known.get(signer)
        if cached is None or now - cached[0] > self.limits.ttl:
            cached = (now, self._ask(signer))
            with self._lock:
                if len(self._known) >= _CACHE_MOST:
                    self._known = {
                        a: c for a, c in self._known.items() if now - c[0] <= self.limits.ttl
                    }
                self._known[signer] = cached
        if cached[1] is None:
            with self._lock:
                self.refused.unknown += 1
            raise Forbidden(
                f"signer {signer} is neither an admitted prosumer nor a role holder "
                f"(admin, clock, meter) of the Market {self.market}: the queue "
                "relays only for the market's own"
            )
        return cached[1]

    def _ask(self, signer: str) -> Kind | None:
        market = self.market
        calls = [
            self.ledger.eth_call(
                market, _SEL_HAS_ROLE + abi_encode(["bytes32", "address"], [role, signer])
            )
            for role in ROLES.values()
        ]
        calls.append(
            self.ledger.eth_call(market, _SEL_PROSUMER + abi_encode(["address"], [signer]))
        )
        answers = self.ledger.rpc.batch(calls)
        for answer in answers:
            if isinstance(answer, RpcError):
                raise NodeUnavailable(f"the Market did not say who {signer} is: {answer}")
        words = [as_bytes(a) for a in answers]
        if any(int.from_bytes(w[:32] or b"\0", "big") == 1 for w in words[:-1]):
            return "role"
        record = words[-1]  # (meterId, zone, admitted, ...)
        return "prosumer" if len(record) >= 96 and int.from_bytes(record[64:96], "big") else None

    def forget(self, signer: str) -> None:
        with self._lock:
            self._known.pop(signer, None)

    # ------------------------------------------------------------------ a prosumer's share

    def check_depth(self, depth: int) -> None:
        """A prosumer's place in the queue: refused when prosumers would take the places kept
        for the role holders."""
        if depth >= self.limits.prosumer_depth:
            self._count("depth")
            raise Throttled(
                f"queue full for prosumers: {depth} requests are waiting and "
                f"{self.limits.prosumer_depth} is the prosumers' share "
                "(--role-reserve keeps the rest for the market's roles); "
                "retry later",
                retry_after=1.0,
            )

    def check_share(self, signer: str, gas: int) -> None:
        """Raise `Throttled` if the prosumer `signer` may not queue a request of `gas` now.
        Called under the signer's lock, so its own requests cannot overshoot."""
        limits = self.limits
        waiting = len(self.store.live_nonces(signer))
        if waiting >= limits.max_waiting:
            self._count("waiting")
            raise Throttled(
                f"signer {signer} has {waiting} requests waiting, the most a "
                f"prosumer may have (--max-waiting {limits.max_waiting}); retry "
                "when one of them is final",
                retry_after=1.0,
            )
        now = time.time()
        used, oldest = self.store.gas_since(signer, now - limits.gas_window)
        if used + gas > limits.gas_per_window:
            self._count("gas")
            retry = (oldest or now) + limits.gas_window - now
            raise Throttled(
                f"signer {signer} asked for {used} gas in the last "
                f"{limits.gas_window:g} s; {gas} more is above a prosumer's "
                f"{limits.gas_per_window} per {limits.gas_window:g} s "
                f"(--gas-per-window); retry in {math.ceil(retry)} s",
                retry_after=retry,
            )
        if limits.revert_limit == 0:
            return
        reverts = self.store.reverts_since(signer, now - limits.revert_window)
        if len(reverts) >= limits.revert_limit:
            self._count("reverts")
            retry = reverts[limits.revert_limit - 1] + limits.revert_window - now
            raise Throttled(
                f"signer {signer} is throttled: {len(reverts)} of its requests "
                f"reverted on chain in the last {limits.revert_window:g} s "
                f"(--revert-limit {limits.revert_limit}); retry in "
                f"{math.ceil(retry)} s",
                retry_after=retry,
            )

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self.refused, what, getattr(self.refused, what) + 1)
