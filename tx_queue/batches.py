"""The submitter's batches: its settings (`SubmitterConfig`), a relay transaction in flight
(`InFlight`), which queued requests go into the next transaction (`take_batch`) and how it is
signed (`sign_batch`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from . import forward as fw
from .fees import FeePolicy, Fees
from .ledger import Ledger
from .records import StoredRequest

# Answers to eth_sendRawTransaction that mean "this nonce is taken or the tx is known":
# the receipt (or its absence once the nonce is used) decides.
BENIGN = (
    "already known",
    "known transaction",
    "already imported",
    "nonce too low",
    "alreadyknown",
    "already exists",
    "replacement transaction underpriced",
)


@dataclass
class InFlight:
    tx_id: int
    relay_nonce: int
    tx_hash: str
    raw: bytes
    requests: list[StoredRequest]
    fees: Fees
    last_broadcast: float | None = None
    first_broadcast: float | None = None
    created: float = field(default_factory=time.monotonic)


@dataclass
class SubmitterConfig:
    window: int = 4
    max_batch: int = 100
    max_batch_gas: int = 15_000_000
    max_attempts: int = 3
    poll_interval: float = 0.02
    idle_wait: float = 0.5
    rebroadcast_after: float = 15.0
    fees: FeePolicy = field(default_factory=FeePolicy)
    stuck_after: float = 30.0  # a transaction without a receipt this long: /health degraded
    reprice_after: float = 2.0  # the oldest transaction waits this long: priced out?
    funds_retry: tuple[float, float] = (1.0, 15.0)  # pause after a refusal for funds: first, most
    drop_after: float = 3.0  # a used relay nonce without our receipt for this long: dropped
    nudge_after: float = 0.2  # Anvil automine: mine a block when a sent tx waits this long


def take_batch(
    queued: list[StoredRequest], gas_cap: int, now: float
) -> tuple[list[StoredRequest], list[int]]:
    """From `queued` (in the order they go), the next batch within `gas_cap`, and the ids of
    those whose deadline passed. A request queued again after a failed attempt goes alone, so
    it cannot sink a batch twice."""
    batch: list[StoredRequest] = []
    expired: list[int] = []
    gas = 0
    for r in queued:
        if r.request.deadline < now:
            expired.append(r.id)
            continue
        cost = r.request.gas * 64 // 63 + 60_000 + 40 * (len(r.request.data) + 500)
        if batch and (gas + cost > gas_cap - 100_000 or r.attempts > 0):
            break
        batch.append(r)
        gas += cost
        if r.attempts > 0:
            break
    return batch, expired


def sign_batch(
    relay: LocalAccount, ledger: Ledger, nonce: int, requests: list[fw.ForwardRequest], fees: Fees
) -> tuple[str, bytes]:
    """`executeBatch(requests)` on the forwarder, signed by the relay: (hash, raw bytes)."""
    data = fw.encode_execute_batch(requests, relay.address)
    tx: dict[str, Any] = {
        "nonce": nonce,
        "to": ledger.forwarder,
        "value": 0,
        "data": data,
        "gas": fw.batch_gas_limit(requests, len(data)),
        **fees.tx_fields(),
        "chainId": ledger.deployment.chain_id,
    }
    signed = relay.sign_transaction(tx)
    return signed.hash.to_0x_hex(), bytes(signed.raw_transaction)
