"""``create_app(gateway, settings)``: the gateway's FastAPI app. A refused reading is answered
``{"message", "detail"}`` with the refusal's status (401, 404, 409, 422, 503); a malformed body
is the common 422 of ``gridgame.http``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gridgame import service_app

from .errors import Refusal, Unauthorized
from .gateway import Gateway
from .routes import router
from .settings import Settings

log = logging.getLogger("meter_gateway")


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    log.info("reading refused", extra={"status": exc.status, "error": exc.message})
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return JSONResponse(
        status_code=exc.status,
        content={"message": exc.message, "detail": exc.message},
        headers=headers,
    )


def create_app(gateway: Gateway, settings: Settings) -> FastAPI:
    app = service_app(
        title="gridgame meter gateway",
        description="Meters upload their readings (kWh per game, or 15-minute intervals) with "
        "a bearer token; the gateway checks them against the chain and posts them "
        "through the transaction queue with the meter role.",
        max_body_bytes=settings.max_body_bytes,
        log=log,
    )
    app.state.gateway = gateway
    app.state.settings = settings
    app.include_router(router)
    app.add_exception_handler(Refusal, _refused)
    return app
