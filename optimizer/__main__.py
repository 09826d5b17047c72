"""``python -m optimizer [--host H] [--port P] [--max-sellers N] ...``: run the service.

Every flag is also the environment variable ``OPTIMIZER_<FLAG>`` (``OPTIMIZER_PORT``); the flag
wins. ``--help`` lists them all."""

from __future__ import annotations

import logging
import sys

from gridgame import configure, server
from optimizer.app import create_app
from optimizer.settings import Settings


def main(argv: list[str] | None = None) -> int:
    settings = Settings.parse_or_explain(argv)
    if settings is None:
        return 2
    config = configure("optimizer", level=settings.log_level, access_log=settings.access_log)
    logging.getLogger("optimizer").info(
        "starting",
        extra={
            "host": settings.host,
            "port": settings.port,
            "max_sellers": settings.max_sellers,
            "max_buyers": settings.max_buyers,
            "max_body_bytes": settings.max_body_bytes,
        },
    )
    service = server(create_app(settings), settings, config, access_log=settings.access_log)
    service.run()
    return 0 if service.started else 1


if __name__ == "__main__":
    sys.exit(main())
