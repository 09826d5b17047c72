"""gridgame meter gateway: meters upload readings over HTTP with a bearer token; the gateway
checks each against the chain and posts it through the transaction queue with the meter role
(``python -m meter_gateway``, docs/meter_gateway.md).

    from meter_gateway import Store, meter_key, create_app

The token store, the meter ids and the errors load at once; the app and the chain side (web3,
FastAPI) on first use, so that ``python -m meter_gateway token ...`` stays quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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
from .meters import meter_key
from .store import Store

if TYPE_CHECKING:
    from .app import create_app
    from .gateway import MAX_READING_WH, Gateway
    from .settings import Settings

_LAZY = {
    "create_app": "app",
    "Gateway": "gateway",
    "MAX_READING_WH": "gateway",
    "Settings": "settings",
}

__all__ = [
    "MAX_READING_WH",
    "AlreadyRead",
    "Gateway",
    "GatewayError",
    "NotFound",
    "Refusal",
    "Settings",
    "StartupError",
    "Store",
    "TokenError",
    "Unacceptable",
    "Unauthorized",
    "Unavailable",
    "create_app",
    "meter_key",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
