"""``create_app(settings)``: the transaction queue's FastAPI app."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gridgame import service_app
from ledger_contracts import NodeUnavailable

from .errors import Refused
from .logs import get_logger
from .routes import router
from .service import QueueService
from .settings import Settings


def create_app(settings: Settings, service: QueueService | None = None) -> FastAPI:
    """The app; its service is built at start-up unless given (built already)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal service
        if service is None:
            service = QueueService(settings)
        app.state.service = service
        # Few worker threads: each request mostly waits on the node; many threads only fight
        # over the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.http_threads
        service.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            service.stop()

    app = service_app(
        title="gridgame tx_queue",
        lifespan=lifespan,
        log=get_logger("http"),
        max_body_bytes=settings.max_body_bytes,
        description="Relays EIP-712 signed ERC-2771 forward requests onto the ledger.",
    )
    app.include_router(router)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        headers = (
            {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
            if exc.retry_after is not None
            else None
        )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(NodeUnavailable)
    async def node_down(_: Request, exc: NodeUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"node unavailable: {exc}"}, status_code=503)

    return app
