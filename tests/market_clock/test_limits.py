"""The clock's HTTP side over real HTTP: a body over its limit (`--max-body-bytes`) is a 413
naming the limit, and the settings are read from MARKET_CLOCK_<FLAG> variables."""

from __future__ import annotations

import httpx

from .conftest import Queue, StartClock


def test_a_body_over_the_limit_is_413(queue: Queue, start_clock: StartClock) -> None:
    _, health = start_clock("--max-body-bytes", "2048", queue=queue.url)
    answer = httpx.post(health, content=b"x" * 4096)
    assert answer.status_code == 413
    assert answer.json()["message"] == "request body too large: the limit is 2 KiB"
    assert httpx.post(health, content=b"x" * 100).status_code == 405  # read, then routed
    assert httpx.get(health).json()["status"] in ("ok", "starting")


def test_settings_come_from_prefixed_variables(queue: Queue, start_clock: StartClock) -> None:
    _, health = start_clock(
        queue=queue.url, env={"MARKET_CLOCK_MAX_BODY_BYTES": "1024", "MARKET_CLOCK_SPEED": "7"}
    )
    assert httpx.get(health).json()["speed"] == 7
    answer = httpx.post(health, content=b"x" * 2000)
    assert answer.status_code == 413 and "1 KiB" in answer.json()["message"]
