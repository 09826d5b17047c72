"""``create_app(clock, account, settings)``: the clock's FastAPI app (``GET /health``)."""

from __future__ import annotations

from fastapi import FastAPI

from gridgame import service_app

from .clock import Clock
from .logs import get_logger
from .routes import router
from .settings import Settings


def create_app(clock: Clock, account: str, settings: Settings) -> FastAPI:
    app = service_app(
        title="gridgame market_clock",
        log=get_logger(),
        max_body_bytes=settings.max_body_bytes,
        description="Opens and closes games, skips expired turns.",
    )
    app.state.clock = clock
    app.state.account = account
    app.include_router(router)
    return app
