"""Log lines like the original demo's, on stderr:

    [P003] [2026-11-22 10:01:12] info: Buyer playing in game 3
    [P003] [2026-11-22 10:01:12] verbose: Optimized solution for demand of 28: 0,10.4618,9.3945

Levels are the original's (winston's npm levels): error, warn, info, verbose, debug, silly.
Each line carries the prosumer's tag (`--name`), so several prosumers may share a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

VERBOSE = 15
SILLY = 5
LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "verbose": VERBOSE,
    "debug": logging.DEBUG,
    "silly": SILLY,
}
_NAMES = {number: name for name, number in LEVELS.items()}
LOGGER = "prosumer_client"


class Formatter(logging.Formatter):
    """`[TAG] [YYYY-mm-dd HH:MM:SS] level: message` (local time)."""

    def format(self, record: logging.LogRecord) -> str:
        tag = getattr(record, "tag", None) or "PROSUMER"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        level = _NAMES.get(record.levelno, record.levelname.lower())
        line = f"[{tag}] [{stamp}] {level}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Tagged(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that stamps every record with one prosumer's tag, with the extra levels."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("extra", {})["tag"] = self.extra["tag"] if self.extra else None
        return msg, kwargs

    def verbose(self, msg: str, *args: Any) -> None:
        self.log(VERBOSE, msg, *args)

    def silly(self, msg: str, *args: Any) -> None:
        self.log(SILLY, msg, *args)


def tagged(tag: str, name: str = LOGGER) -> Tagged:
    return Tagged(logging.getLogger(name), {"tag": tag})


def setup(level: str = "info", stream: Any = None) -> None:
    """Send the package's logs to stderr (or `stream`) at `level` (one of `LEVELS`)."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LEVELS)})")
    logging.addLevelName(VERBOSE, "verbose")  # new levels only: the standard names stay
    logging.addLevelName(SILLY, "silly")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(Formatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(LEVELS[level])
    logger.propagate = False


def kwh(value: float) -> str:
    """A kWh or price figure as the original printed it: up to 4 decimals, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def kwh_list(values: Iterable[float]) -> str:
    return ",".join(kwh(v) for v in values)
