"""Logs on stderr in the original clock's shape, wall time, local time zone:

    [CLOCK] [2026-11-22 10:00:07] info: Game 3 opened at chain time 10:00:05 ...

or, with `--log-format json`, one JSON object per line (`ts` is wall time, unix seconds).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER = "market_clock"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        line = f"[CLOCK] [{stamp}] {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger(LOGGER)
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


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


class RateLimited:
    """True at most once per `every` seconds: for conditions that repeat every tick."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            return True
        return False
