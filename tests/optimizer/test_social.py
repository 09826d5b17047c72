"""Social optimum and price of anarchy: against an independent solver, and the edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import InvalidInputError, equilibrium, price_of_anarchy, social_optimum
from optimizer.social import ratio

from .conftest import slsqp_reference


def _total_cost_by_scipy(d: dict[str, list], t: float = 0.02) -> float:
    """The least total cost by the SLSQP reference, with the analytic gradient."""
    p, c = np.array(d["sellers_price"]), np.array(d["sellers_capacity"])
    h = np.array(d["hop_distances"], dtype=float)

    def cost(x: np.ndarray) -> float:
        L = x.sum(axis=0)
        return float(np.sum(p * L * (1 + L / c)) + np.sum(t * h * x))

    def grad(x: np.ndarray) -> np.ndarray:
        return p * (1 + 2 * x.sum(axis=0) / c) + t * h

    return float(slsqp_reference(d, cost, grad).fun)


def test_demo_social_optimum_matches_an_independent_solver(demo: dict[str, list]) -> None:
    args = (demo["demands"], demo["sellers_price"], demo["sellers_capacity"], demo["hop_distances"])
    opt = social_optimum(*args)
    assert opt.success and opt.status == 0 and opt.nit > 0
    assert opt.total_cost == pytest.approx(_total_cost_by_scipy(demo), rel=1e-8)
    assert abs(opt.gap) < 1e-7
    np.testing.assert_allclose(opt.x.sum(axis=1), demo["demands"], rtol=1e-8)
    assert np.all(opt.loads <= np.array(demo["sellers_capacity"]) + 1e-8)
    eq = equilibrium(*args)
    poa = price_of_anarchy(*args)
    assert poa == pytest.approx(eq.total_cost / opt.total_cost) and 1.0 < poa < 1.05


def test_grid_in_the_social_optimum() -> None:
    # seller 0's marginal cost 0.1 (1 + 2 L / 10) stays below 0.35: it is full; grid for the rest
    opt = social_optimum([15.0], [0.1], [10.0], [[0]], grid_price=0.35)
    assert opt.loads[0] == pytest.approx(10.0, abs=1e-6)
    assert opt.grid[0] == pytest.approx(5.0, abs=1e-6)
    assert opt.total_cost == pytest.approx(0.1 * 10 * 2 + 0.35 * 5, rel=1e-8)


def test_nothing_demanded_costs_nothing() -> None:
    opt = social_optimum([0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [[0, 0], [0, 0]])
    assert opt.total_cost == 0.0 and not opt.x.any()
    assert price_of_anarchy([0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [[0, 0], [0, 0]]) == 1.0


def test_ratio_reports_rounding_below_one_as_one() -> None:
    assert ratio(1.0 - 1e-12, 1.0) == 1.0
    assert ratio(2.0, 1.0) == 2.0
    assert ratio(0.0, 0.0) == 1.0


def test_bad_game_names_the_argument() -> None:
    with pytest.raises(InvalidInputError) as info:
        social_optimum([1.0], [0.1], [1.0], [[0]], tol=0.0)
    assert info.value.field == "tol"
    with pytest.raises(InvalidInputError) as info:
        price_of_anarchy([1.0], [0.1], [1.0], [[-1]])
    assert info.value.field == "hop_distances[0][0]"
