"""Exceptions of the prosumer client (the relay client has its own tree, `relay.RelayError`).

    ProsumerError               base of everything raised here
    ├── ProfileError            an energy profile is missing, malformed or has bad numbers
    ├── OptimizerError          the best-response service failed
    │   ├── OptimizerUnavailable    it could not be reached (after bounded retries)
    │   └── OptimizerRefused        it answered an error (`.status`, `.detail`)
    ├── SettlementNotDeployed   the command needs the Settlement contract, the deployment has none
    └── Refused                 the market refused an offer, demand, bid or reading (`.reason`)
"""

from __future__ import annotations


class ProsumerError(Exception):
    """Base of every error raised by `prosumer_client` (outside the relay client)."""


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
        super().__init__(f"settlement not deployed: {what} needs the Settlement contract, "
                         "and the deployment file has none")


class Refused(ProsumerError):
    """`what` ("offer", "demand", "bid", ...) was refused; `reason` is the decoded custom error
    when there is one, e.g. ``MarketRegistrationWindowClosed(gameId=3, ...)``."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what} refused: {reason}")
