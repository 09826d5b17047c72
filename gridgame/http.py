"""Turn every failure into a fixed, helpful answer: 422 for bad input, naming the field
(``{"message": "...", "detail": [{"loc": [...], "msg": "...", "type": "..."}]}``), and a
catch-all 500 that logs the traceback and says nothing else."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from optimizer.errors import InvalidInputError

log = logging.getLogger("optimizer")


def field_path(loc: Sequence[Any]) -> str:
    """("body", "sellers_price", 2) -> "sellers_price[2]"."""
    parts = [p for p in loc if p != "body"] or ["body"]
    text = str(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _loc(field: str) -> list[str | int]:
    """Map "hop_distances[3][1]" to ["body", "hop_distances", 3, 1]."""
    return ["body", field.split("[", 1)[0], *(int(i) for i in re.findall(r"\[(\d+)\]", field))]


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    message = "; ".join(e["msg"] for e in errors[:5])
    if len(errors) > 5:
        message += f"; and {len(errors) - 5} more"
    return JSONResponse(status_code=422, content={"message": message, "detail": errors})


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        field = field_path(err.get("loc", ()))
        problem = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            problem = "is not a field of this request"
        elif err.get("type") == "json_invalid":
            field, problem = (
                "body",
                f"is not valid JSON ({err.get('ctx', {}).get('error', problem)})",
            )
        errors.append(
            {
                "loc": list(err.get("loc", ())),
                "msg": f"{field}: {problem}",
                "type": str(err.get("type", "value_error")),
            }
        )
    log.info("invalid request", extra={"path": request.url.path, "error": errors[0]["msg"]})
    return unprocessable(errors)


async def _input_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    log.info("invalid input", extra={"path": request.url.path, "error": str(exc)})
    return unprocessable([{"loc": _loc(exc.field), "msg": str(exc), "type": "value_error"}])


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI could not parse the body (e.g. a 5000-digit number)
        log.info("invalid body", extra={"path": request.url.path, "error": str(exc.detail)})
        return unprocessable(
            [{"loc": ["body"], "msg": f"body: {exc.detail}", "type": "json_invalid"}]
        )
    return JSONResponse(
        status_code=exc.status_code,
        content={"message": str(exc.detail), "detail": exc.detail},
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse(status_code=500, content={"message": "internal error", "detail": []})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(InvalidInputError, _input_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
