"""Exceptions of the meter gateway.

GatewayError            base of everything this package raises on purpose
├── StartupError        the gateway cannot run (no key, no METER_ROLE, no node, no queue);
│                       the process exits 1 with the message
├── TokenError          a token command cannot do what was asked (unknown meter, bad id)
└── Refusal             a reading is refused; `.status` is the HTTP answer, the message
    │                   names the problem; nothing was sent to the queue
    ├── Unauthorized    401: no bearer token, or one that is unknown or revoked
    ├── NotFound        404: the meter is not admitted, no such game, not a participant
    ├── AlreadyRead     409: the prosumer's reading for this game is in (or on its way)
    ├── Unacceptable    422: outside the metering window, too large, intervals outside
    │                   the delivery period
    └── Unavailable     503: the node or the queue cannot be reached, or the gateway's
                        account lost METER_ROLE
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error raised by `meter_gateway`."""


class StartupError(GatewayError):
    pass


class TokenError(GatewayError):
    pass


class Refusal(GatewayError):
    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class Unauthorized(Refusal):
    status = 401


class NotFound(Refusal):
    status = 404


class AlreadyRead(Refusal):
    status = 409


class Unacceptable(Refusal):
    status = 422


class Unavailable(Refusal):
    status = 503
