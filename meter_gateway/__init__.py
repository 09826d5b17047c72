"""gridgame meter gateway: meters upload readings over HTTP with a bearer token; the gateway
checks each against the chain and posts it through the transaction queue with the meter role
(``python -m meter_gateway``, docs/meter_gateway.md).

    from meter_gateway import Store, meter_key
"""

from .app import create_app
from .errors import (
    AlreadyRead,
    GatewayError,
    NotFound,
    Refusal,
    StartupError,
    TokenError,
    Unacceptable,
    Unauthorized,
    Unavailable,
)
from .gateway import MAX_READING_WH, Gateway
from .meters import meter_key
from .settings import Settings
from .store import Store

__all__ = [
    "MAX_READING_WH", "AlreadyRead", "Gateway", "GatewayError", "NotFound", "Refusal",
    "Settings", "StartupError", "Store", "TokenError", "Unacceptable", "Unauthorized",
    "Unavailable", "create_app", "meter_key",
]
