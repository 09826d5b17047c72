"""Exceptions of the ledger package.

LedgerError                 base of everything this package raises
├── ArtifactNotFound        the contracts were not built (run `make contracts`)
├── DeploymentError         a deployment file is missing, malformed or for another chain
├── NodeUnavailable         the RPC endpoint did not answer in time (connection, timeout,
│                           HTTP 5xx/408/429, an answer that is not JSON-RPC)
├── RpcError                the node answered a JSON-RPC error (`.code`, `.message`, `.data`)
└── LedgerRevert            a call or transaction reverted; `.error` is the decoded reason
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error raised by `ledger_contracts`."""


class ArtifactNotFound(LedgerError):
    pass


class DeploymentError(LedgerError):
    pass


class NodeUnavailable(LedgerError):
    pass


class RpcError(LedgerError):
    """The node's JSON-RPC error answer to `method` (when known)."""

    def __init__(
        self, code: int, message: str, data: Any = None, *, method: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        prefix = f"{method}: " if method else ""
        super().__init__(f"{prefix}RPC error {code}: {message}")


class LedgerRevert(LedgerError):
    """A reverted call. `name` is the custom error's name (or "Panic"/"Error"/"unknown"),
    `args` its decoded arguments, and `str()` a readable form such as
    ``MarketBidExceedsCapacity(seller=2, load=41000, capacity=36000)``."""

    def __init__(self, name: str, args: dict[str, object], raw: str = "") -> None:
        self.name = name
        self.args_by_name = args
        self.raw = raw
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in args.items())
        super().__init__(f"{name}({inner})")


def _fmt(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)
