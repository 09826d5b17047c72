"""What the relay pays for gas: EIP-1559 fees from the node's fee history, under a ceiling, or
a fixed price (zero on a permissioned network without fees).

`auto` reads `eth_feeHistory` over the last blocks: the next block's base fee and the median
tip paid in recent non-empty blocks (the configured tip when there is none). It offers
`maxFeePerGas = 2 * base fee + tip` (room for the base fee to rise six blocks in a row) and
pays only `base fee + tip`. Nothing here multiplies the node's price suggestion: a relay whose
own transactions set that suggestion (alone on a chain, every block its own) would otherwise
drive it up exponentially. A node without EIP-1559 (no `baseFeePerGas` in its blocks) gets a
legacy transaction at `eth_gasPrice`. Above the ceiling nothing is signed: `FeesTooHigh`.

A transaction replacing a pending one with the same nonce must raise both fees by at least
10% (geth, Anvil); `Fees.replacing` raises them by 12.5%.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Literal

import rlp

from ledger_contracts import Rpc, RpcError

from .errors import QueueError

GWEI = 10**9
FeeMode = Literal["auto", "fixed"]
_HISTORY_BLOCKS = 10
_REPLACEMENT_BUMP = (9, 8)  # 12.5% more: above the 10% nodes require
# Refusals for the relay's balance (geth, Nethermind, Besu, Anvil spell it differently).
_FUNDS = ("insufficient funds", "insufficient balance", "exceeds balance", "upfront cost exceeds")
# Refusals for the fees offered: fresh fees may pass.
_FEES = (
    "underpriced",
    "fee too low",
    "less than block base fee",
    "gas price too low",
    "feecap",
    "fee cap",
    "tip too low",
    "below minimum",
    "priority fee",
)


class FeesTooHigh(QueueError):
    """The fee needed now is above the relay's ceiling; nothing is signed."""


def gwei(wei: int) -> str:
    return f"{wei / GWEI:.9g} gwei"


@dataclass(frozen=True)
class Fees:
    """The fees of one transaction: EIP-1559 (`tip` set) or legacy (`tip` None: `max_fee` is
    the gas price)."""

    max_fee: int
    tip: int | None = None

    @property
    def legacy(self) -> bool:
        return self.tip is None

    def tx_fields(self) -> dict[str, int]:
        if self.tip is None:
            return {"gasPrice": self.max_fee}
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}

    def replacing(self, old: Fees) -> Fees:
        """These fees, raised where needed so that a node takes them in place of `old`."""
        num, den = _REPLACEMENT_BUMP
        max_fee = max(self.max_fee, old.max_fee * num // den + 1)
        if self.tip is None or old.tip is None:
            return Fees(max_fee)
        return Fees(max_fee, min(max_fee, max(self.tip, old.tip * num // den + 1)))

    def __str__(self) -> str:
        if self.tip is None:
            return f"gas price {gwei(self.max_fee)}"
        return f"max fee {gwei(self.max_fee)}, tip {gwei(self.tip)}"


def refusal_kind(message: str) -> str:
    """ "funds", "fees" or "other": why the node refused a transaction."""
    text = message.lower()
    if any(f in text for f in _FUNDS):
        return "funds"
    if any(f in text for f in _FEES):
        return "fees"
    return "other"


def fees_of(raw: bytes) -> Fees:
    """The fees of a signed transaction (legacy or EIP-1559), from its bytes."""
    if raw[:1] == b"\x02":
        fields = rlp.decode(raw[1:])  # chainId, nonce, tip, maxFee, gas, to, value, data, ...
        return Fees(_int(fields[3]), _int(fields[2]))
    if raw[:1] == b"\x01":
        fields = rlp.decode(raw[1:])  # chainId, nonce, gasPrice, ...
        return Fees(_int(fields[2]))
    return Fees(_int(rlp.decode(raw)[1]))  # nonce, gasPrice, ...


def _int(item: Any) -> int:
    return int.from_bytes(bytes(item), "big")


@dataclass(frozen=True)
class FeePolicy:
    """`auto`: from the fee history, at most `max_fee`; `fixed`: `gas_price` for every
    transaction (legacy), which may be 0."""

    mode: FeeMode = "auto"
    gas_price: int = 0
    max_fee: int = 100 * GWEI
    tip: int = 1 * GWEI  # when recent blocks show none

    @classmethod
    def from_gwei(cls, mode: FeeMode, gas_price: float, max_fee: float, tip: float) -> FeePolicy:
        return cls(mode, round(gas_price * GWEI), round(max_fee * GWEI), round(tip * GWEI))

    def describe(self) -> str:
        if self.mode == "fixed":
            return f"fixed {gwei(self.gas_price)}"
        return f"auto (EIP-1559 from the fee history), ceiling {gwei(self.max_fee)}"


class FeeOracle:
    """Current fees for a new transaction, read at most once per `ttl` seconds."""

    def __init__(self, rpc: Rpc, policy: FeePolicy, *, ttl: float = 1.0) -> None:
        self.rpc = rpc
        self.policy = policy
        self.ttl = ttl
        self.eip1559: bool | None = None  # known once `detect` saw a block
        self.base_fee: int | None = None  # the next block's, as last read
        self._cached: tuple[float, Fees | FeesTooHigh] | None = None

    def detect(self, latest_block: dict[str, Any]) -> None:
        """Whether the node prices gas by EIP-1559, from its latest block."""
        self.eip1559 = latest_block.get("baseFeePerGas") is not None

    def forget(self) -> None:
        """Read the fees again next time (a send was refused for its fees)."""
        self._cached = None

    def current(self) -> Fees:
        """The fees to sign with now. Raises `FeesTooHigh` above the ceiling."""
        if self.policy.mode == "fixed":
            return Fees(self.policy.gas_price)
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl:
            try:
                found: Fees | FeesTooHigh = self._read()
            except FeesTooHigh as exc:
                found = exc
            self._cached = (now, found)
        found = self._cached[1]
        if isinstance(found, FeesTooHigh):
            raise found
        return found

    def _read(self) -> Fees:
        ceiling = self.policy.max_fee
        if self.eip1559 is False:
            price = int(self.rpc.call("eth_gasPrice", []), 16)
            if price > ceiling:
                raise FeesTooHigh(
                    f"the node's gas price {gwei(price)} is above the relay's "
                    f"ceiling {gwei(ceiling)} (--max-fee-gwei)"
                )
            return Fees(price)
        try:
            history = self.rpc.call("eth_feeHistory", [hex(_HISTORY_BLOCKS), "latest", [50]])
        except RpcError as exc:
            text = exc.message.lower()
            if exc.code != -32601 and not any(
                w in text
                for w in (
                    "not supported",
                    "not found",
                    "does not exist",
                    "unsupported",
                    "not available",
                )
            ):
                raise
            self.eip1559 = False  # a node without eth_feeHistory: legacy pricing
            return self._read()
        base = self.base_fee = int(history["baseFeePerGas"][-1], 16)
        tips = [
            int(reward[0], 16)
            for reward, used in zip(
                history.get("reward") or [], history.get("gasUsedRatio") or [], strict=False
            )
            if reward and used > 0
        ]
        tip = int(statistics.median(tips)) if tips else self.policy.tip
        if base >= ceiling:
            raise FeesTooHigh(
                f"the next block's base fee {gwei(base)} is at or above the "
                f"relay's ceiling {gwei(ceiling)} (--max-fee-gwei)"
            )
        tip = min(tip, ceiling - base)
        return Fees(min(ceiling, 2 * base + tip), tip)
