"""`python -m tx_queue [--rpc URL] [--deployment FILE] [--db FILE] [--host H] [--port P] ...`

Every flag is also the environment variable `TX_QUEUE_<FLAG>` (TX_QUEUE_RPC, TX_QUEUE_PORT,
...; the bare names RPC, PORT, ... still work); the flag wins. `--help` lists them all.
"""

from __future__ import annotations

import sys

from gridgame import server

from .app import create_app
from .errors import ConfigError
from .logs import get_logger, setup
from .service import QueueService
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    settings = Settings.parse_or_explain(argv)
    if settings is None:
        return 2
    config = setup(settings.log_level)
    try:
        service = server(create_app(settings, QueueService(settings)), settings, config)
    except ConfigError as exc:
        get_logger("main").error(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    service.run()
    return 0 if service.started else 1


if __name__ == "__main__":
    sys.exit(main())
