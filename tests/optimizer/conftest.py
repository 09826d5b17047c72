"""Fixtures of the optimizer's tests: the original demo game, a real server, and the SLSQP
reference that whole-game results are checked against."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from scipy.optimize import minimize

from bench.common import optimizer_service

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


Allocation = np.ndarray  # buyers x sellers, kWh


def slsqp_reference(
    d: dict[str, list],
    objective: Callable[[Allocation], float],
    gradient: Callable[[Allocation], np.ndarray],
) -> Any:
    """An independent solver: SLSQP with tight tolerances minimising `objective` (with its
    analytic `gradient`, both of a buyers x sellers allocation) over the game `d`'s feasible
    allocations (each buyer's demand met, no seller above capacity). Its `x` is reshaped."""
    c, dem = np.array(d["sellers_capacity"]), np.array(d["demands"])
    B, S = len(dem), len(c)
    cons = [
        {"type": "eq", "fun": lambda v, i=i: v.reshape(B, S)[i].sum() - dem[i]} for i in range(B)
    ]
    cons += [
        {"type": "ineq", "fun": lambda v, j=j: c[j] - v.reshape(B, S)[:, j].sum()} for j in range(S)
    ]
    x0 = np.repeat(dem[:, None] / S, S, axis=1).ravel()
    res = minimize(
        lambda v: objective(v.reshape(B, S)),
        x0,
        jac=lambda v: np.broadcast_to(gradient(v.reshape(B, S)), (B, S)).ravel(),
        method="SLSQP",
        bounds=[(0, None)] * (B * S),
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert res.success
    res.x = np.asarray(res.x).reshape(B, S)
    return res


@pytest.fixture(scope="session")
def optimizer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``python -m optimizer`` on a free port: yields (base URL, its stderr log file)."""
    log = tmp_path_factory.mktemp("optimizer") / "server.log"
    env = {f"OPTIMIZER_{k}": str(v) for k, v in SERVER_LIMITS.items()}
    with log.open("w") as err:
        try:
            with optimizer_service(env, err) as url:
                yield url, log
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log.read_text()[-2000:]}") from exc


@pytest.fixture(scope="session")
def base_url(optimizer_server: tuple[str, Path]) -> str:
    return optimizer_server[0]


@pytest.fixture(scope="session")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30.0) as c:
        yield c
