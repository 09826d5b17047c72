"""The original system's best response, kept as a reference: SciPy's SLSQP with numeric
gradients, ``ftol`` 1e-3, at most 200 iterations, starting from zero, sellers with less than
1e-3 kWh of room fixed at zero. It is approximate and slow; compare against it, don't ship it.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize

from optimizer.results import CONVERGED, FAILED, ITERATION_LIMIT, Array, BestResponseResult

FTOL = 1e-3
MAXITER = 200
MIN_ROOM = 1e-3


def slsqp_best_response(
    demand: float,
    a: Array,
    b: Array,
    room: Array,
    grid_price: float | None = None,
    *,
    ftol: float = FTOL,
    maxiter: int = MAXITER,
) -> BestResponseResult:
    """SLSQP on the buyer's problem (see ``best_response``); with a grid price the grid is one
    more variable with constant unit price and no upper bound."""
    upper = np.where(room > MIN_ROOM, room, 0.0)
    if grid_price is not None:
        a = np.append(a, grid_price)
        b = np.append(b, 0.0)
        upper = np.append(upper, np.inf)

    def cost(x: Array) -> float:
        return float(x @ (a + b * x))

    with warnings.catch_warnings():
        # SLSQP warns when a starting point lies outside tightened bounds; the result says so
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(
            cost,
            np.zeros(a.size),
            method="SLSQP",
            bounds=list(zip(np.zeros(a.size), upper, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: np.sum(x) - demand}],
            options={"maxiter": maxiter, "ftol": ftol},
        )
    x = np.asarray(res.x, dtype=np.float64)
    grid = float(x[-1]) if grid_price is not None else 0.0
    if grid_price is not None:
        x = x[:-1]
    # SciPy answers without ``status`` (and without ``nit``) when the bounds fix every
    # variable: here when every seller has under MIN_ROOM kWh free and there is no grid
    status = CONVERGED if res.success else ITERATION_LIMIT if res.get("status") == 9 else FAILED
    return BestResponseResult(
        x=x,
        grid=grid,
        cost=float(res.fun),
        marginal_price=float("nan"),
        method="slsqp",
        success=bool(res.success),
        status=status,
        message=str(res.message),
        nit=int(res.get("nit", 0)),
    )
