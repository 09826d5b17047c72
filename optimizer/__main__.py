"""``python -m optimizer [--host H] [--port P] [--log-level L]``: run the service.

Flags override the environment (``OPTIMIZER_HOST``, ``OPTIMIZER_PORT``, ``OPTIMIZER_LOG_LEVEL``,
``OPTIMIZER_MAX_SELLERS``, ``OPTIMIZER_MAX_SLSQP_SELLERS``, ``OPTIMIZER_MAX_BUYERS``,
``OPTIMIZER_MAX_CELLS``), which overrides
the defaults (127.0.0.1:8081)."""

from __future__ import annotations

import argparse
import logging
import logging.config
import sys

import uvicorn

from optimizer.api import create_app
from optimizer.logs import log_config
from optimizer.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description=__doc__.split("\n")[0])
    parser.add_argument("--host", help="address to listen on (OPTIMIZER_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (OPTIMIZER_PORT, 8081)")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="OPTIMIZER_LOG_LEVEL, info",
    )
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    settings = Settings(**overrides)
    config = log_config(settings.log_level)
    logging.config.dictConfig(config)
    logging.getLogger("optimizer").info(
        "starting",
        extra={
            "host": settings.host,
            "port": settings.port,
            "max_sellers": settings.max_sellers,
            "max_buyers": settings.max_buyers,
        },
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=config,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
