"""The queue's logs: one JSON object per line on stderr (the shape and the helpers are
gridgame's, see ``gridgame.logs``).

    log = get_logger("submitter")
    log.info("batch sent", extra=fields(relay_nonce=7, requests=40))
"""

from __future__ import annotations

import logging
from typing import Any

from gridgame import RateLimited, configure, fields

LOGGER = "tx_queue"

__all__ = ["LOGGER", "RateLimited", "fields", "get_logger", "setup"]


def setup(level: str = "info") -> dict[str, Any]:
    """JSON lines on stderr for the queue's loggers and uvicorn's; returns the config."""
    return configure(LOGGER, level=level)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER}.{name}")
