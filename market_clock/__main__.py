"""`python -m market_clock [--rpc URL] [--deployment FILE] [--queue URL] [--key-file F]
[--period S] [--registration S] [--delivery S] [--round-limit N] [--turn-seconds S]
[--epsilon-wh N] [--games N] [--speed X] [--port P] ...`

Every flag is also the environment variable `MARKET_CLOCK_<FLAG>` (MARKET_CLOCK_RPC,
MARKET_CLOCK_PERIOD, ...; the bare names RPC, PERIOD, ... still work); the flag wins. The key
comes from --key-file or CLOCK_KEY. `--help` lists them all.
The clock loop runs in a thread; the health endpoint (uvicorn) in the main thread, which also
takes SIGINT/SIGTERM. With `--games N` the process exits 0 once N games are done.
"""

from __future__ import annotations

import sys
import threading

from gridgame import server

from .app import create_app
from .errors import StartupError
from .logs import get_logger, setup
from .settings import Settings
from .startup import build


def main(argv: list[str] | None = None) -> int:
    settings = Settings.parse_or_explain(argv)
    if settings is None:
        return 2
    config = setup(settings.log_level, settings.log_format)
    log = get_logger()
    try:
        clock, address = build(settings)
    except StartupError as exc:
        log.error(str(exc))
        return 1
    http = server(create_app(clock, address, settings), settings, config)

    def loop() -> None:
        try:
            done = clock.run()
            if settings.games and clock.status.state != "failed":
                log.info(f"{done} game(s) done; stopping")
        finally:
            http.should_exit = True

    thread = threading.Thread(target=loop, name="clock", daemon=True)
    thread.start()
    http.run()
    clock.stop_event.set()
    thread.join(timeout=10)
    if clock.status.state == "failed":  # the clock said why
        return 1
    if not http.started:
        log.error(f"the health endpoint could not listen on {settings.host}:{settings.port}")
        return 1
    finished = clock.status.state == "finished" or not settings.games
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
