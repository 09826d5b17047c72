"""What every gridgame HTTP service shares: the app's construction (`service_app`), a limit on
the request body (`BodySizeLimit`, 413), and errors as fixed, short answers:

    {"message": "buyer_demand: Input should be greater than or equal to 0", "detail": [...]}

A 422 names each field (``detail``: ``[{"loc", "msg", "type"}]``) and never echoes the input
back; any other HTTP error is ``{"message", "detail"}``; an unexpected exception is logged with
its traceback and answered ``500 {"message": "internal error", "detail": []}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MiB = 1024 * 1024
_MAX_ERRORS = 5  # errors spelled out in `message`
_MAX_TEXT = 200  # characters of a field name or problem repeated back


def size(n: int) -> str:
    """1048576 -> "1 MiB", 65536 -> "64 KiB", 1000 -> "1000 bytes"."""
    for unit, factor in (("MiB", MiB), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {size(limit)}")


class BodySizeLimit:
    """ASGI middleware: a request whose body is larger than `max_bytes` is answered 413 (with
    the limit) — at once if its Content-Length says so, else as soon as the bytes read pass
    the limit; the body is never buffered beyond it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _answer(send, BodyTooLarge(self.max_bytes))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:  # read outside a route (the route's own handler answers)
            if not started:
                await _answer(send, exc)


async def _answer(send: Send, exc: HTTPException) -> None:
    body = json.dumps({"message": exc.detail, "detail": exc.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _short(text: object) -> str:
    s = str(text)
    return s if len(s) <= _MAX_TEXT else s[:_MAX_TEXT] + "..."


def field_path(loc: Sequence[Any]) -> str:
    """("body", "sellers_price", 2) -> "sellers_price[2]"; ("query", "limit") -> "limit"."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")] or ["body"]
    text = _short(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{_short(part)}"
    return text


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    """422 ``{"message": the first few problems, "detail": every error}``."""
    message = "; ".join(e["msg"] for e in errors[:_MAX_ERRORS])
    if len(errors) > _MAX_ERRORS:
        message += f"; and {len(errors) - _MAX_ERRORS} more"
    return JSONResponse(status_code=422, content={"message": message, "detail": errors})


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Each error as ``{"loc", "msg": "<field>: <problem>", "type"}``: no ``input`` (which can
    be the whole body), names and problems cut to a few hundred characters."""
    errors = []
    for err in exc.errors():
        loc = err.get("loc", ())
        field = field_path(loc)
        problem = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            problem = "is not a field of this request"
        elif err.get("type") == "json_invalid":
            reason = err.get("ctx", {}).get("error", problem)
            field, problem = "body", f"is not valid JSON ({reason})"
        errors.append(
            {
                "loc": [p if isinstance(p, int) else _short(p) for p in loc],
                "msg": f"{field}: {_short(problem)}",
                "type": str(err.get("type", "value_error")),
            }
        )
    return errors


def install_error_handlers(app: FastAPI, log: logging.Logger) -> None:
    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        log.info("invalid request", extra={"path": request.url.path, "error": errors[0]["msg"]})
        return unprocessable(errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400:  # FastAPI could not parse the body (a 5000-digit number)
            log.info("invalid body", extra={"path": request.url.path, "error": str(exc.detail)})
            return unprocessable(
                [{"loc": ["body"], "msg": f"body: {exc.detail}", "type": "json_invalid"}]
            )
        return JSONResponse(
            status_code=exc.status_code,
            content={"message": str(exc.detail), "detail": exc.detail},
            headers=getattr(exc, "headers", None),
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
        return JSONResponse(status_code=500, content={"message": "internal error", "detail": []})

    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def service_app(
    *,
    title: str,
    description: str,
    max_body_bytes: int,
    log: logging.Logger,
    version: str = "1.0.0",
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """A FastAPI app with what every gridgame service has: the body limit and the error
    answers above. The service adds its routers, state and own exception handlers."""
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    install_error_handlers(app, log)
    return app
