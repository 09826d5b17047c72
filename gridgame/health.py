"""Waiting for a service to be healthy: ``GET <url>`` until it answers 200 (and, if asked, a
body that `ready` accepts), with an explicit timeout per request and a deadline overall.

    wait_healthy("http://127.0.0.1:8082/health", timeout=30, alive=proc_is_running)

Every service answers ``GET /health``; the demo, the clock (waiting for the queue) and the
tests all wait through here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, Field

from gridgame.errors import NotHealthy

HEALTH_PATH = "/health"


class Health(BaseModel):
    """What every service's ``GET /health`` answers at least; each adds its own details."""

    status: str = Field(description="'ok' when the service can do its job now")


def wait_healthy(
    url: str,
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    request_timeout: float = 2.0,
    ready: Callable[[Any], bool] | None = None,
    alive: Callable[[], bool] | None = None,
    name: str | None = None,
) -> Any:
    """Poll `url` until it answers 200 and `ready(json body)` (if given) is true; returns the
    body. Raises `NotHealthy` after `timeout` seconds, or as soon as `alive()` is false (the
    process being waited for has exited)."""
    what = name or url
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if alive is not None and not alive():
            raise NotHealthy(f"{what} exited before it was healthy at {url} ({last})")
        try:
            answer = httpx.get(url, timeout=request_timeout)
            if answer.status_code == 200:
                body = answer.json() if ready is not None else None
                if ready is None or ready(body):
                    return body
                last = f"not ready: {str(body)[:200]}"
            else:
                last = f"HTTP {answer.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotHealthy(f"{what} was not healthy at {url} within {timeout:g} s ({last})")
        time.sleep(min(interval, remaining))
