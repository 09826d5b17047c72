"""Fixtures of the optimizer's tests: the original demo game and a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridgame import NotHealthy, wait_healthy

# The original system's demo: four sellers, seven buyers; hop distances are ours.
DEMO: dict[str, list[Any]] = {
    "sellers_price": [0.14, 0.0838, 0.0784, 0.0666],
    "sellers_capacity": [350.0, 36.0, 29.0, 49.0],
    "demands": [34.0, 47.0, 13.0, 28.0, 31.0, 29.0, 15.0],
    "hop_distances": [
        [1, 2, 3, 4],
        [2, 1, 2, 3],
        [3, 2, 1, 2],
        [4, 3, 2, 1],
        [1, 3, 2, 4],
        [2, 4, 1, 3],
        [3, 1, 4, 2],
    ],
}

# limits of the test server: small, so that fuzzing stays fast and the limits are exercised
SERVER_LIMITS = {"MAX_SELLERS": 40, "MAX_SLSQP_SELLERS": 10, "MAX_BUYERS": 30, "MAX_CELLS": 400}


@pytest.fixture
def demo() -> dict[str, list]:
    return {k: list(v) for k, v in DEMO.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def optimizer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``python -m optimizer`` on a free port: yields (base URL, its stderr log file)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("optimizer") / "server.log"
    env = {**os.environ, **{f"OPTIMIZER_{k}": str(v) for k, v in SERVER_LIMITS.items()}}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimizer", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(f"{url}/health", timeout=30, alive=lambda: proc.poll() is None)
        except NotHealthy as exc:
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"optimizer did not start: {exc}\n{tail}") from exc
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def base_url(optimizer_server: tuple[str, Path]) -> str:
    return optimizer_server[0]


@pytest.fixture(scope="session")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30.0) as c:
        yield c
