"""Exceptions of the transaction queue.

    QueueError                  base of everything this package raises
    ├── NodeDown                the Ethereum node did not answer (connection, timeout, 5xx)
    ├── RpcError                the node answered a JSON-RPC error (`.code`, `.message`, `.data`)
    ├── ConfigError             the deployment, node and database do not belong together
    └── Refused                 a request was refused; `.status` is the HTTP status to answer
        ├── InvalidRequest      422: bad signature, expired, foreign target, would revert, ...
        ├── Conflict            409: a replay (nonce used or queued, idempotency key reused)
        ├── QueueFull           429: the queue holds its maximum depth
        └── Unavailable         503: the node is down, so the request cannot be checked
"""

from __future__ import annotations

from typing import Any


class QueueError(Exception):
    """Base of every error raised by `tx_queue`."""


class NodeDown(QueueError):
    pass


class RpcError(QueueError):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"RPC error {code}: {message}")


class ConfigError(QueueError):
    pass


class Refused(QueueError):
    status = 400

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidRequest(Refused):
    status = 422


class Conflict(Refused):
    status = 409


class QueueFull(Refused):
    status = 429


class Unavailable(Refused):
    status = 503
