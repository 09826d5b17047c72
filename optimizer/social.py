"""The social optimum (the allocation with the least total cost) and the price of anarchy.

Total cost: sum_j p_j L_j (1 + L_j / C_j) + sum_ij t h_ij x_ij + g * grid imports. It is
convex but not strictly (only the loads are pinned down), so it is solved by the interior-point
method; the certificate is a Lagrangian lower bound:

    min total cost >= sum_i D_i min(g, min_j (t h_ij + nu_j))
                      + sum_j min_{0 <= L <= C_j} (p_j L + (p_j / C_j) L^2 - nu_j L)   for any nu.
"""

from __future__ import annotations

import numpy as np

from optimizer import interior_point
from optimizer.best_response import DEFAULT_TRANSMISSION_COST
from optimizer.dual_newton import Problem
from optimizer.equilibrium import equilibrium_of
from optimizer.game import Game, MatrixLike, VectorLike, feasible, make_game, total_cost
from optimizer.results import CONVERGED, ITERATION_LIMIT, Array, SocialOptimumResult
from optimizer.validation import as_tolerance

TOL = interior_point.TOL


def lower_bound(game: Game, nu: Array) -> float:
    """The Lagrangian lower bound on the minimum total cost at seller multipliers ``nu``."""
    cheapest = (game.transmission + nu).min(axis=1)
    if game.grid_price is not None:
        cheapest = np.minimum(cheapest, game.grid_price)
    s = game.price / game.capacity
    loads = np.clip((nu - game.price) / (2.0 * s), 0.0, game.capacity)
    return float(game.demands @ cheapest + np.sum((game.price - nu + s * loads) * loads))


def minimum_total_cost(game: Game, tol: float = TOL) -> SocialOptimumResult:
    pb = Problem(
        game.demands,
        np.zeros_like(game.price),
        game.transmission,
        game.price,
        game.price / game.capacity,
        game.capacity,
        game.grid_price,
    )
    sol = interior_point.solve(pb, tol=tol)
    x, grid = feasible(game, sol.x, sol.grid)
    cost = total_cost(game, x, grid)
    return SocialOptimumResult(
        x=x,
        grid=grid,
        loads=x.sum(axis=0),
        total_cost=cost,
        gap=max(cost - lower_bound(game, sol.nu), 0.0),
        success=sol.converged,
        status=CONVERGED if sol.converged else ITERATION_LIMIT,
        message="converged: interior point" if sol.converged else "iteration limit reached",
        nit=sol.nit,
    )


def social_optimum(
    demands: VectorLike,
    sellers_price: VectorLike,
    sellers_capacity: VectorLike,
    hop_distances: MatrixLike,
    *,
    transmission_cost_per_hop: float = DEFAULT_TRANSMISSION_COST,
    grid_price: float | None = None,
    tol: float = TOL,
) -> SocialOptimumResult:
    """The allocation minimising the total cost of all buyers (same arguments as
    ``equilibrium``). Raises ``InvalidInputError`` (a ``ValueError``) naming the argument."""
    game = make_game(
        demands,
        sellers_price,
        sellers_capacity,
        hop_distances,
        transmission_cost_per_hop,
        grid_price,
    )
    return minimum_total_cost(game, as_tolerance("tol", tol))


def price_of_anarchy(
    demands: VectorLike,
    sellers_price: VectorLike,
    sellers_capacity: VectorLike,
    hop_distances: MatrixLike,
    *,
    transmission_cost_per_hop: float = DEFAULT_TRANSMISSION_COST,
    grid_price: float | None = None,
) -> float:
    """Total cost at the equilibrium (Phi's minimiser) over the minimum total cost (>= 1;
    1.0 when nothing is demanded)."""
    game = make_game(
        demands,
        sellers_price,
        sellers_capacity,
        hop_distances,
        transmission_cost_per_hop,
        grid_price,
    )
    return ratio(equilibrium_of(game).total_cost, minimum_total_cost(game).total_cost)


def ratio(equilibrium_cost: float, optimum_cost: float) -> float:
    """equilibrium_cost / optimum_cost; 1.0 for a game without cost, and rounding below 1
    (within the solvers' tolerance) is reported as 1."""
    if optimum_cost <= 0.0 or equilibrium_cost <= 0.0:
        return 1.0
    value = equilibrium_cost / optimum_cost
    return 1.0 if 1.0 - 1e-9 < value < 1.0 else value
