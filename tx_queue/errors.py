"""Exceptions of the transaction queue.

    QueueError                  base of everything this package raises
    ├── ConfigError             the deployment, node and database do not belong together
    ├── Refused                 a request was refused; `.status` is the HTTP status to answer
    │   ├── InvalidRequest      422: bad signature, expired, foreign target, would revert, ...
    │   ├── Forbidden           403: the signer is neither an admitted prosumer nor a role holder
    │   ├── Conflict            409: a replay (nonce used or queued, idempotency key reused)
    │   ├── QueueFull           429: the queue holds its maximum depth
    │   │   └── Throttled       429: a prosumer over its share (waiting, gas, reverts)
    │   └── Unavailable         503: the node is down, so the request cannot be checked
    └── RelayError              raised by the queue's client (`tx_queue.client`)
        ├── RelayUnavailable    the queue could not be reached (after bounded retries)
        ├── RequestRefused      the queue refused the request (`.status` 409/422/..., `.detail`)
        ├── RequestReverted     it executed and reverted (`.name`, `.args_by_name`: the error)
        ├── RequestFailed       it never executed (`.reason`: expired, nonce gap, ...)
        └── WaitTimeout         no final state within the wait's timeout

The node's own errors are the ledger's, raised by its JSON-RPC client and let through:
`ledger_contracts.NodeUnavailable` (the node did not answer: the HTTP layer answers 503) and
`ledger_contracts.RpcError` (a JSON-RPC error answer, `.code`, `.message`, `.data`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Outcome


class QueueError(Exception):
    """Base of every error raised by `tx_queue`."""


class ConfigError(QueueError):
    pass


class Refused(QueueError):
    status = 400

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        self.detail = detail
        self.retry_after = retry_after  # seconds, sent as `Retry-After`
        super().__init__(detail)


class InvalidRequest(Refused):
    status = 422


class Forbidden(Refused):
    status = 403


class Conflict(Refused):
    status = 409


class QueueFull(Refused):
    status = 429


class Throttled(QueueFull):
    pass


class Unavailable(Refused):
    status = 503


class RelayError(QueueError):
    """Base of every error raised by the queue's client."""


class RelayUnavailable(RelayError):
    pass


class RequestRefused(RelayError):
    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"refused ({status}): {detail}")


class RequestReverted(RelayError):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        error = outcome.raw.get("error") or {}
        self.name = str(error.get("name", "Unknown"))
        self.args_by_name: dict[str, Any] = dict(error.get("args") or {})
        super().__init__(outcome.error or "reverted")


class RequestFailed(RelayError):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.reason = outcome.reason or "failed"
        super().__init__(self.reason)


class WaitTimeout(RelayError):
    pass
