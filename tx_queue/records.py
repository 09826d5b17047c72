"""What the queue's tables hold, as records: a stored request (`StoredRequest`), a relay
transaction (`StoredTx`), and what became of a request in one (`Fate`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ledger_contracts import LedgerRevert

from .forward import ForwardRequest


@dataclass(frozen=True)
class Revert:
    """A decoded revert: `name(args)`, as `LedgerRevert` prints it."""

    name: str
    args: dict[str, Any]
    text: str

    @classmethod
    def of(cls, err: LedgerRevert) -> Revert:
        return cls(err.name, {k: _plain(v) for k, v in err.args_by_name.items()}, str(err))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


STATUSES = ("queued", "submitted", "mined", "reverted", "failed")
FINAL = frozenset({"mined", "reverted", "failed"})


@dataclass(frozen=True)
class StoredRequest:
    id: int
    idempotency_key: str | None
    request: ForwardRequest
    nonce: int
    simulated: bool
    status: str = "queued"
    attempts: int = 0
    tx_id: int | None = None
    tx_hash: str | None = None
    relay_nonce: int | None = None
    block_number: int | None = None
    error: Revert | None = None
    reason: str | None = None
    accepted_at: float = 0.0
    submitted_at: float | None = None
    finished_at: float | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @classmethod
    def new(
        cls,
        id: int,
        request: ForwardRequest,
        nonce: int,
        idempotency_key: str | None,
        simulated: bool,
        accepted_at: float,
    ) -> StoredRequest:
        """A request as it is stored on acceptance: queued, no attempt yet."""
        return cls(id, idempotency_key, request, nonce, simulated, accepted_at=accepted_at)


@dataclass(frozen=True)
class StoredTx:
    id: int
    relay_nonce: int
    tx_hash: str
    raw: bytes
    status: str
    request_ids: tuple[int, ...]


@dataclass(frozen=True)
class Fate:
    """What became of one request of a relay transaction. `status` "queued" puts it back in
    the queue (`count_attempt`: the failure counts towards the request's attempt limit)."""

    request_id: int
    status: str
    error: Revert | None = None
    reason: str | None = None
    count_attempt: bool = False
    executed_tx: str | None = None  # set when another transaction executed the request
    block_number: int | None = None


def request_of(row: sqlite3.Row) -> StoredRequest:
    error = json.loads(row["error"]) if row["error"] else None
    return StoredRequest(
        id=int(row["id"]),
        idempotency_key=row["idempotency_key"],
        request=ForwardRequest(
            row["signer"],
            row["target"],
            int(row["value"]),
            int(row["gas"]),
            int(row["deadline"]),
            bytes(row["data"]),
            bytes(row["signature"]),
        ),
        nonce=int(row["nonce"]),
        simulated=bool(row["simulated"]),
        status=str(row["status"]),
        attempts=int(row["attempts"]),
        tx_id=row["tx_id"],
        tx_hash=row["executed_tx"] or (row["tx_hash"] if row["tx_id"] is not None else None),
        relay_nonce=row["relay_nonce"] if row["tx_id"] is not None else None,
        block_number=row["block_number"],
        error=Revert(error["name"], error["args"], error["text"]) if error else None,
        reason=row["reason"],
        accepted_at=float(row["accepted_at"]),
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
    )
