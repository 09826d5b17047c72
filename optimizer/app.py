"""``create_app(settings)``: the optimizer's FastAPI app. Bad input is a 422 naming the field
(``InvalidInputError`` from the solvers included), see ``gridgame.http``."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gridgame import service_app, unprocessable
from optimizer.errors import InvalidInputError
from optimizer.routes import router
from optimizer.settings import Settings

log = logging.getLogger("optimizer")


def _loc(field: str) -> list[str | int]:
    """Map "hop_distances[3][1]" to ["body", "hop_distances", 3, 1]."""
    return ["body", field.split("[", 1)[0], *(int(i) for i in re.findall(r"\[(\d+)\]", field))]


async def _input_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    log.info("invalid input", extra={"path": request.url.path, "error": str(exc)})
    return unprocessable([{"loc": _loc(exc.field), "msg": str(exc), "type": "value_error"}])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = service_app(
        title="gridgame optimizer",
        description="Exact best responses, equilibria and social optima of the energy market game.",
        max_body_bytes=settings.max_body_bytes,
        log=log,
    )
    app.state.settings = settings
    app.include_router(router)
    app.add_exception_handler(InvalidInputError, _input_invalid)
    return app
