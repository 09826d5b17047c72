"""Running a service's app with uvicorn, the same way for every service: our log shape for
uvicorn's own lines, no proxy-header rewriting, no Server/Date headers (less work per request),
uvloop and httptools when installed."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from gridgame.settings import ServiceSettings


def server(
    app: FastAPI, settings: ServiceSettings, log_config: dict[str, Any], access_log: bool = False
) -> uvicorn.Server:
    """The server; `.run()` blocks until SIGINT/SIGTERM or `.should_exit`; `.started` says
    whether it could listen at all."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=log_config,
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        date_header=False,
    )
    return uvicorn.Server(config)
