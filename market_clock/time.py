"""The chain's time, real or simulated.

The clock decides by the time the *next* block will carry: the larger of the latest block's
timestamp and the pending block's (an idle auto-mining Anvil mines nothing, so its latest
block can be minutes old while a transaction sent now gets the current time).

* `RealTime` (speed 1) only reads. On a dev chain (Anvil, Hardhat) it can `freshen`: mine one
  empty block so that calls simulated against the latest block see the current time.
* `SimulatedTime` (speed X > 1) drives a dev chain's clock: a virtual time that runs X times
  faster than wall time, made real by mining an empty block at it (`evm_setNextBlockTimestamp`
  + `evm_mine`) on every tick. It never moves past a `hold` (a deadline a prosumer may still
  be acting against, see `clock.hold_until`) and can `jump` straight to a future time when
  nothing can happen before it. It never moves time backwards.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from typing import Any, Protocol

from web3 import Web3

from .errors import StartupError, Transient

Wall = Callable[[], float]


class ChainClock(Protocol):
    simulated: bool
    speed: float

    def now(self) -> int: ...

    def advance(self, hold: int | None) -> None: ...

    def jump(self, to: int) -> None: ...

    def freshen(self, needed: int) -> None: ...


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    try:
        response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    except Exception as exc:  # connection refused, timeout
        raise Transient(f"node unavailable ({method}): {exc}") from exc
    if "error" in response:
        raise Transient(f"{method} failed: {response['error']}")
    return response.get("result")


def block_times(w3: Web3) -> tuple[int, int]:
    """(latest block's timestamp, the pending block's): one batch would do, two calls are fine."""
    latest = _rpc(w3, "eth_getBlockByNumber", ["latest", False])
    try:
        pending = _rpc(w3, "eth_getBlockByNumber", ["pending", False])
    except Transient:
        pending = None
    lt = int(latest["timestamp"], 16)
    pt = int(pending["timestamp"], 16) if pending else lt
    return lt, pt


def controls_time(w3: Web3) -> bool:
    """Whether the node lets us move its clock (a dev chain: Anvil, Hardhat, Ganache)."""
    try:
        response = w3.provider.make_request("evm_increaseTime", [0])  # type: ignore[arg-type]
    except Exception as exc:
        raise StartupError(f"the node does not answer: {exc}") from exc
    return "error" not in response


class RealTime:
    simulated = False
    speed = 1.0

    def __init__(self, w3: Web3, *, dev_chain: bool) -> None:
        self.w3 = w3
        self.dev_chain = dev_chain

    def now(self) -> int:
        return max(block_times(self.w3))

    def advance(self, hold: int | None) -> None:
        return None

    def jump(self, to: int) -> None:
        return None

    def freshen(self, needed: int) -> None:
        """Dev chain only: mine an empty block if the latest is older than `needed`."""
        if self.dev_chain and block_times(self.w3)[0] < needed:
            _rpc(self.w3, "evm_mine", [])


class SimulatedTime:
    simulated = True

    def __init__(self, w3: Web3, speed: float, *, wall: Wall = _time.monotonic) -> None:
        if speed <= 1.0:
            raise ValueError("simulated time needs a speed above 1")
        self.w3 = w3
        self.speed = speed
        self._wall = wall
        self._virtual: float | None = None  # virtual chain time at wall time `_at`
        self._at = 0.0

    @classmethod
    def checked(cls, w3: Web3, speed: float) -> SimulatedTime:
        if not controls_time(w3):
            raise StartupError(
                f"--speed {speed:g} needs a chain whose clock can be moved (evm_increaseTime, "
                "evm_mine: Anvil or Hardhat); this node refuses it. Run with --speed 1."
            )
        return cls(w3, speed)

    def now(self) -> int:
        return max(block_times(self.w3))

    def advance(self, hold: int | None) -> None:
        """Move the virtual time on by speed x the wall time since the last call, not past
        `hold`, and mine a block at it if that moves the chain."""
        latest, pending = block_times(self.w3)
        wall = self._wall()
        if self._virtual is None:
            target = float(pending)
        else:
            target = self._virtual + self.speed * (wall - self._at)
        if hold is not None:
            target = min(target, float(hold))
        target = max(target, float(latest))  # never backwards
        self._virtual, self._at = target, wall
        self._mine_at(int(target), latest, pending)

    def jump(self, to: int) -> None:
        latest, pending = block_times(self.w3)
        self._virtual, self._at = float(max(to, latest)), self._wall()
        self._mine_at(to, latest, pending)

    def freshen(self, needed: int) -> None:
        latest, pending = block_times(self.w3)
        if latest < needed:
            self._mine_at(max(needed, pending), latest, pending)

    def _mine_at(self, ts: int, latest: int, pending: int) -> None:
        if ts <= latest:
            return
        if ts > pending:
            _rpc(self.w3, "evm_setNextBlockTimestamp", [ts])
        _rpc(self.w3, "evm_mine", [])
