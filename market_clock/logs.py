"""Logs on stderr in the original clock's shape, wall time, local time zone:

    [CLOCK] [2026-11-22 10:00:07] info: Game 3 opened at chain time 10:00:05 ...

or, with `--log-format json`, one JSON object per line (the shapes are gridgame's, see
``gridgame.logs``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gridgame import LogFormat, RateLimited, configure

LOGGER = "market_clock"
TAG = "CLOCK"

__all__ = ["LOGGER", "RateLimited", "chain_stamp", "get_logger", "setup", "short"]


def setup(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    """The clock's loggers and uvicorn's, in `fmt`; returns the config (for uvicorn)."""
    return configure(LOGGER, level=level, fmt=fmt, tag=TAG)


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER)


def short(address: str | None) -> str:
    """0xabcd…ef12, as the logs print accounts."""
    if not address:
        return "nobody"
    return f"{address[:6]}…{address[-4:]}"


def chain_stamp(ts: int) -> str:
    """A chain timestamp in the logs' time zone, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
