"""Result objects in the style of ``scipy.optimize.OptimizeResult``: the solution ``x``,
``success``, ``status`` (0 = converged; see each solver for the others), ``message``, the
iteration count ``nit``, plus the cost figures that matter to the market."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

CONVERGED = 0
"""``status`` of a result that met its tolerance."""
ITERATION_LIMIT = 1
"""``status`` of a result that stopped at its iteration (or round) limit."""
FAILED = 2
"""``status`` of a reference solver (SLSQP) that reported another failure."""


@dataclass(frozen=True)
class BestResponseResult:
    """One buyer's best response.

    x: kWh bought from each seller; grid: kWh imported from the grid (0 without a grid price);
    cost: the buyer's cost of ``x`` (and of the grid import) given the others' loads;
    marginal_price: the buyer's marginal cost at the optimum (the KKT multiplier lambda;
    ``grid_price`` when the grid supplies the rest; ``nan`` when the demand is zero).
    """

    x: Array
    grid: float
    cost: float
    marginal_price: float
    method: str
    success: bool = True
    status: int = CONVERGED
    message: str = "exact solution of the KKT conditions"
    nit: int = 0


@dataclass(frozen=True)
class EquilibriumResult:
    """The equilibrium of a game of B buyers and S sellers.

    x: B x S kWh; grid: kWh each buyer imports from the grid; costs: each buyer's cost;
    loads, unit_prices: per seller, ``p (1 + L / C)``; total_cost: sum of ``costs``;
    potential: Phi at ``x``; residual: the largest change any buyer would make by playing its
    best response to ``x`` (the equilibrium certificate: 0 at a Nash equilibrium);
    gap: Phi(x) minus the dual lower bound (``potential`` method; nan otherwise);
    rounds / history: full rounds played and the allocation after each (``best-response``).
    """

    x: Array
    grid: Array
    costs: Array
    loads: Array
    unit_prices: Array
    total_cost: float
    potential: float
    residual: float
    method: str
    success: bool
    status: int
    message: str
    nit: int
    gap: float = float("nan")
    rounds: int = 0
    history: list[Array] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class SocialOptimumResult:
    """The allocation that minimises the total cost of all buyers together.

    gap: total_cost minus a dual lower bound on the minimum (a certificate of optimality).
    """

    x: Array
    grid: Array
    loads: Array
    total_cost: float
    gap: float
    success: bool
    status: int
    message: str
    nit: int
