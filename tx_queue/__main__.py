"""`python -m tx_queue [--rpc URL] [--deployment FILE] [--db FILE] [--host H] [--port P] ...`

Every flag also reads the environment variable of the same name (RPC, DEPLOYMENT, DB, ...);
`--help` lists them all.
"""

from __future__ import annotations

import sys

import uvicorn

from .errors import ConfigError
from .logs import get_logger, setup
from .main import create_app
from .service import QueueService
from .settings import parse


def main(argv: list[str] | None = None) -> int:
    settings = parse(argv)
    setup(settings.log_level)
    try:
        app = create_app(settings, QueueService(settings))
        # No proxy-header rewriting nor Server/Date headers: less work per request on the
        # queue's hot path (uvloop and httptools are used when installed, as they are here).
        config = uvicorn.Config(app, host=settings.host, port=settings.port,
                                log_level="warning", access_log=False, log_config=None,
                                proxy_headers=False, server_header=False, date_header=False)
        server = uvicorn.Server(config)
        server.run()
    except ConfigError as exc:
        get_logger("main").error(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
