"""Logs of every gridgame service, in one of two shapes on stderr:

- ``json``: one JSON object per line, ``{"time", "level", "logger", "message", ...fields}``
  (``time`` in UTC to the millisecond, an exception's traceback under ``exception``);
- ``text``: the original system's human lines, ``[TAG] [2026-11-22 10:00:07] info: message``
  (local time), which the demo shows on its screen.

Extra fields come from ``extra=fields(relay_nonce=7)`` or plain ``extra={"port": 8081}``::

    configure("tx_queue", level="info")
    logging.getLogger("tx_queue.submitter").info("batch sent", extra=fields(requests=40))
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from collections.abc import Iterable
from typing import Any, Literal

LogFormat = Literal["json", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]

_FIELDS = "_fields"
# attributes every LogRecord has: anything else on a record is an extra field
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
    _FIELDS,
}
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call whose field names could clash with LogRecord's own."""
    return {_FIELDS: values}


def stamp(seconds: float | None = None) -> str:
    """Local time to the second, as the text lines print it."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        entry.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``[TAG] [local time] level: message`` (and the traceback of an exception, if any)."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"[{self.tag}] [{stamp(record.created)}] {record.levelname.lower()}: "
            f"{record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_config(
    loggers: Iterable[str],
    level: str = "info",
    fmt: LogFormat = "json",
    tag: str = "LOG",
    access_log: bool = False,
) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (also uvicorn's ``log_config``): `loggers` at `level`,
    uvicorn's own lines in the same shape (warnings only in ``text``, where they would
    interrupt the human lines), its access log (at `level`: none above info) only if
    `access_log`."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if fmt == "json" else {"()": TextFormatter, "tag": tag}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    server_level = level.upper() if fmt == "json" else "WARNING"
    levels = {name: level.upper() for name in loggers}
    levels |= {
        "uvicorn": server_level,
        "uvicorn.error": server_level,
        "uvicorn.access": level.upper() if access_log else "WARNING",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": lvl, "propagate": False}
            for name, lvl in levels.items()
        },
    }


def configure(
    *loggers: str,
    level: str = "info",
    fmt: LogFormat = "json",
    tag: str = "LOG",
    access_log: bool = False,
) -> dict[str, Any]:
    """Apply `log_config` now; returns it (for uvicorn)."""
    config = log_config(loggers, level, fmt, tag, access_log)
    logging.config.dictConfig(config)
    return config


class RateLimited:
    """True at most once per `every` seconds (the first time always): for a condition that
    repeats every tick (the node is down), logged once in a while rather than every time."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            return True
        return False
