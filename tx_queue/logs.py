"""Structured logs: one JSON object per line on stderr.

    log = get_logger("submitter")
    log.info("batch sent", extra=fields(relay_nonce=7, requests=40))
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_FIELDS = "_fields"


def fields(**values: Any) -> dict[str, Any]:
    return {_FIELDS: values}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("tx_queue")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"tx_queue.{name}")


class RateLimited:
    """Logs a repeated condition (node down) at most once per `every` seconds."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            return True
        return False
