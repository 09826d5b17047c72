"""``python -m meter_gateway [--rpc URL] [--deployment FILE] [--queue URL] [--db FILE]
[--key-file F] [--port P] ...``: run the gateway; ``python -m meter_gateway token ...``:
manage the meters' tokens (see `meter_gateway.cli`).

Every flag is also the environment variable ``METER_GATEWAY_<FLAG>``; the flag wins. The
meter account's key comes from --key-file or METER_KEY. ``--help`` lists them all."""

from __future__ import annotations

import logging
import sys

from . import cli


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["token"]:  # the token command needs neither web3 nor FastAPI
        return cli.main(argv[1:])
    return serve(argv)


def serve(argv: list[str]) -> int:
    from gridgame import configure, server

    from .app import create_app
    from .errors import StartupError
    from .settings import Settings
    from .startup import build

    settings = Settings.parse_or_explain(argv)
    if settings is None:
        return 2
    config = configure("meter_gateway", level=settings.log_level)
    log = logging.getLogger("meter_gateway")
    try:
        gateway = build(settings)
    except StartupError as exc:
        log.error(str(exc))
        return 1
    log.info(
        "starting",
        extra={
            "host": settings.host,
            "port": settings.port,
            "meter_account": gateway.account,
            "db": settings.db,
        },
    )
    service = server(create_app(gateway, settings), settings, config)
    service.run()
    return 0 if service.started else 1


if __name__ == "__main__":
    sys.exit(main())
