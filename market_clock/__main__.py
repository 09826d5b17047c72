"""`python -m market_clock [--rpc URL] [--deployment FILE] [--queue URL] [--key-file F]
[--period S] [--registration S] [--delivery S] [--round-limit N] [--turn-seconds S]
[--epsilon-wh N] [--games N] [--speed X] [--port P] ...`

Every flag also reads the environment variable of the same name (RPC, DEPLOYMENT, QUEUE,
PERIOD, SPEED, ...); the key comes from --key-file or CLOCK_KEY. `--help` lists them all.
The clock loop runs in a thread; the health endpoint (uvicorn) in the main thread, which also
takes SIGINT/SIGTERM. With `--games N` the process exits 0 once N games are done.
"""

from __future__ import annotations

import sys
import threading

import uvicorn

from .errors import StartupError
from .health import create_app
from .logs import get_logger, setup
from .settings import parse
from .startup import build


def main(argv: list[str] | None = None) -> int:
    settings = parse(argv)
    setup(settings.log_level, settings.log_format)
    log = get_logger()
    try:
        clock, address = build(settings)
    except StartupError as exc:
        log.error(str(exc))
        return 1
    server = uvicorn.Server(uvicorn.Config(
        create_app(clock, address), host=settings.host, port=settings.port,
        log_level="warning", access_log=False, log_config=None))

    def loop() -> None:
        try:
            done = clock.run()
            if settings.games and clock.status.state != "failed":
                log.info(f"{done} game(s) done; stopping")
        finally:
            server.should_exit = True

    thread = threading.Thread(target=loop, name="clock", daemon=True)
    thread.start()
    server.run()
    clock.stop_event.set()
    thread.join(timeout=10)
    if clock.status.state == "failed":  # the clock said why
        return 1
    if not server.started:
        log.error(f"the health endpoint could not listen on {settings.host}:{settings.port}")
        return 1
    finished = clock.status.state == "finished" or not settings.games
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
