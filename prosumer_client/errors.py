"""Exceptions of the prosumer client.

    ProsumerError               base of everything raised here
    ├── ProfileError            an energy profile is missing, malformed or has bad numbers
    ├── OptimizerError          the best-response service failed
    │   ├── OptimizerUnavailable    it could not be reached (after bounded retries)
    │   └── OptimizerRefused        it answered an error (`.status`, `.detail`)
    ├── SettlementNotDeployed   the command needs the Settlement contract, the deployment has none
    └── Refused                 the market refused an offer, demand, bid or reading (`.reason`)

Let through from the packages below, with their own bases (the CLI and the agent catch all
three and report them the same way):

    tx_queue.errors.RelayError          the queue's client: the queue unreachable
                                        (`RelayUnavailable`), a wait timed out (`WaitTimeout`),
                                        a refusal other than 409/422 (`RequestRefused`);
                                        `Prosumer` turns 409/422 refusals, reverts and
                                        failures into `Refused`
    ledger_contracts.LedgerError        the node and the chain: `NodeUnavailable`, `RpcError`
                                        (JSON-RPC error answers), `LedgerRevert` (a reverted
                                        read), `DeploymentError`, `ArtifactNotFound`
"""

from __future__ import annotations


class ProsumerError(Exception):
    """Base of every error raised by `prosumer_client` itself."""


class ProfileError(ProsumerError):
    pass


class OptimizerError(ProsumerError):
    pass


class OptimizerUnavailable(OptimizerError):
    pass


class OptimizerRefused(OptimizerError):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"optimizer answered {status}: {detail}")


class SettlementNotDeployed(ProsumerError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"settlement not deployed: {what} needs the Settlement contract, "
            "and the deployment file has none"
        )


class Refused(ProsumerError):
    """`what` ("offer", "demand", "bid", ...) was refused; `reason` is the decoded custom error
    when there is one, e.g. ``MarketRegistrationWindowClosed(gameId=3, ...)``."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what} refused: {reason}")
