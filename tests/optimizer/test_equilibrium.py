"""Equilibria: the potential's minimiser against an independent solver, best-response play,
the certificate, the fallbacks, and every bad input."""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any

import numpy as np
import pytest

from ledger_contracts.testing import random_scenario
from optimizer import InvalidInputError, equilibrium, make_game, potential, work
from optimizer.dual_newton import solve as dual_newton_solve

from .conftest import slsqp_reference

# the module, not the function of the same name that optimizer/__init__ exports
eqmod = importlib.import_module("optimizer.equilibrium")


def _phi_by_scipy(d: dict[str, list], t: float = 0.02) -> np.ndarray:
    """Phi's minimiser by the SLSQP reference, with the analytic gradient."""
    p, c = np.array(d["sellers_price"]), np.array(d["sellers_capacity"])
    h = np.array(d["hop_distances"], dtype=float)

    def phi(x: np.ndarray) -> float:
        L = x.sum(axis=0)
        return float(np.sum(p * L + p / (2 * c) * (L**2 + (x**2).sum(axis=0))) + np.sum(t * h * x))

    def grad(x: np.ndarray) -> np.ndarray:
        return p + p / c * (x.sum(axis=0) + x) + t * h

    return np.asarray(slsqp_reference(d, phi, grad).x)


def test_demo_equilibrium_matches_an_independent_solver(demo: dict[str, list]) -> None:
    res = equilibrium(
        demo["demands"], demo["sellers_price"], demo["sellers_capacity"], demo["hop_distances"]
    )
    assert res.success and res.status == 0 and res.method == "potential"
    np.testing.assert_allclose(res.x, _phi_by_scipy(demo), atol=1e-5)
    np.testing.assert_allclose(res.x.sum(axis=1), demo["demands"], rtol=1e-12)
    assert res.residual < 1e-9 and abs(res.gap) < 1e-9
    game = make_game(
        demo["demands"], demo["sellers_price"], demo["sellers_capacity"], demo["hop_distances"]
    )
    assert res.potential == pytest.approx(potential(game, res.x, res.grid))
    p, c = np.array(demo["sellers_price"]), np.array(demo["sellers_capacity"])
    np.testing.assert_allclose(res.unit_prices, p * (1 + res.loads / c))
    trans = 0.02 * np.array(demo["hop_distances"])
    np.testing.assert_allclose(res.costs, (res.x * (res.unit_prices + trans)).sum(axis=1))
    assert res.total_cost == pytest.approx(res.costs.sum())


def test_best_response_play_reaches_phis_minimiser_when_no_seller_is_full(
    demo: dict[str, list],
) -> None:
    roomy = [10 * c for c in demo["sellers_capacity"]]
    args = (demo["demands"], demo["sellers_price"], roomy, demo["hop_distances"])
    pot = equilibrium(*args)
    play = equilibrium(*args, method="best-response", epsilon=1e-10)
    assert play.success and play.method == "best-response" and play.rounds == play.nit > 1
    assert len(play.history) == play.rounds
    np.testing.assert_array_equal(play.history[-1], play.x)
    np.testing.assert_allclose(play.x, pot.x, atol=1e-7)


def test_on_the_demo_play_stops_at_another_equilibrium(demo: dict[str, list]) -> None:
    """Two sellers fill up; who got there first keeps it. Still an equilibrium (residual 0),
    but not Phi's minimiser: the ledger's converged game is not the potential's minimiser."""
    args = (demo["demands"], demo["sellers_price"], demo["sellers_capacity"], demo["hop_distances"])
    pot = equilibrium(*args)
    play = equilibrium(*args, method="best-response", epsilon=1e-10)
    np.testing.assert_allclose(pot.loads[2:], [29.0, 49.0])
    assert play.success and play.residual < 1e-9 and pot.residual < 1e-9
    assert play.potential > pot.potential + 0.1


def test_round_limit_is_a_status_not_an_error(demo: dict[str, list]) -> None:
    res = equilibrium(
        demo["demands"],
        demo["sellers_price"],
        demo["sellers_capacity"],
        demo["hop_distances"],
        method="best-response",
        max_rounds=1,
        keep_history=False,
    )
    assert not res.success and res.status == 1 and "round limit" in res.message
    assert res.rounds == 1 and res.history == []


def _full_cheap_seller(order: list[int] | None = None, method: Any = "best-response") -> Any:
    # both buyers want all of seller 0, which has room for one of them
    return equilibrium(
        [10.0, 10.0], [0.01, 1.0], [10.0, 1000.0], [[0, 0], [0, 0]], method=method, order=order
    )


def test_with_a_full_seller_play_order_decides_and_phi_splits_it() -> None:
    first, second = _full_cheap_seller([0, 1]), _full_cheap_seller([1, 0])
    np.testing.assert_allclose(first.x[:, 0], [10.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(second.x[:, 0], [0.0, 10.0], atol=1e-12)
    pot = _full_cheap_seller(method="potential")
    np.testing.assert_allclose(pot.x, [[5.0, 5.0], [5.0, 5.0]], atol=1e-9)
    # all three are equilibria (nobody can improve), Phi's minimiser has the lowest potential
    assert max(first.residual, second.residual, pot.residual) < 1e-9
    assert pot.potential < first.potential


def test_grid_fallback_in_a_game() -> None:
    res = equilibrium([30.0, 30.0], [0.1, 0.2], [10.0, 10.0], [[0, 1], [1, 0]], grid_price=0.3)
    assert res.grid.sum() > 0
    np.testing.assert_allclose(res.x.sum(axis=1) + res.grid, [30.0, 30.0])
    marginal = (
        res.unit_prices + np.array([0.1, 0.2]) * res.x / 10.0 + 0.02 * np.array([[0, 1], [1, 0]])
    )
    assert np.all(marginal[res.x > 1e-9] <= 0.3 + 1e-9)


def test_interior_point_fallback_gives_the_same_answer(
    demo: dict[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = (demo["demands"], demo["sellers_price"], demo["sellers_capacity"], demo["hop_distances"])
    direct = equilibrium(*args)
    monkeypatch.setattr(eqmod, "NEWTON_FIRST", 0)
    polished = equilibrium(*args)
    assert polished.success and "interior point + dual Newton" in polished.message
    np.testing.assert_allclose(polished.x, direct.x, atol=1e-9)

    def no_polish(pb: Any, nu0: Any = None, tol: float = 1e-10, maxiter: int = 100) -> Any:
        return dataclasses.replace(dual_newton_solve(pb, nu0, tol, 0), converged=False)

    monkeypatch.setattr(eqmod.dual_newton, "solve", no_polish)
    rough = equilibrium(*args)
    assert rough.success and rough.message == "converged: interior point"
    np.testing.assert_allclose(rough.x, direct.x, atol=1e-4)


def test_a_polish_that_cannot_converge_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nearly free sellers (1e-7 per kWh) and grid imports: Newton from the interior point's
    prices does not converge. It gets NEWTON_POLISH steps, not 100, and the answer stays the
    interior point's. (Its residual, 0.07 kWh here, is larger than the dual Newton's.)"""
    sc = random_scenario(200, 20, seed=1)  # its first 50 buyers and 10 sellers
    buyers, sellers = list(sc.buyers[:50]), sc.sellers[:10]
    hops = [[sc.hop_matrix[b][s] for s in sc.seller_zones[:10]] for b in sc.buyer_zones[:50]]
    polishes: list[int] = []

    def counted(pb: Any, nu0: Any = None, tol: float = 1e-10, maxiter: int = 100) -> Any:
        sol = dual_newton_solve(pb, nu0, tol, maxiter)
        if nu0 is not None:
            polishes.append(sol.nit)
        return sol

    monkeypatch.setattr(eqmod.dual_newton, "solve", counted)
    res = equilibrium(
        buyers, [p * 1e-6 for _, p in sellers], [c for c, _ in sellers], hops, grid_price=0.25
    )
    assert res.success and res.message == "converged: interior point"
    assert polishes == [eqmod.NEWTON_POLISH]
    np.testing.assert_allclose(res.x.sum(axis=1) + res.grid, buyers, atol=1e-6)
    assert res.residual < 0.1


# a buyer of 1e-4 kWh next to one of 5e5: the interior point's tolerance, relative to the
# latter, left the small one without anything, and the large one 5e-5 of its cost above its
# best response
UNEVEN: dict[str, Any] = {
    "demands": [508634.95697514614, 9.652287842041268e-05],
    "sellers_price": [1.497162250897978e-07, 65387242.69384759, 2.586306554975106e-06, 1.0],
    "sellers_capacity": [44.72931923639824, 1e9, 2997770.797074507, 1.0],
    "hop_distances": [
        [3.2924080873053127e-10, 0.0, 781332514.7052388, 343.6862389847826],
        [2.4701713045543934, 63582.33682385872, 33.3332959025022, 0.0055649343860581435],
    ],
    "transmission_cost_per_hop": 1.8373532403159092e-09,
    "grid_price": 1e9,
}


def test_an_answer_a_buyer_could_improve_on_is_played_on_or_not_converged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    game = make_game(**UNEVEN)
    res = eqmod.equilibrium_of(game)
    assert res.success and eqmod.regret(game, res.x, res.grid).max() <= eqmod.REGRET
    np.testing.assert_allclose(res.x.sum(axis=1) + res.grid, UNEVEN["demands"], rtol=1e-10)
    assert res.grid[1] == 0.0  # the grid costs 1e9; seller 0 costs 1e-7
    monkeypatch.setattr(eqmod, "PLAY_ROUNDS", 0)
    rough = eqmod.equilibrium_of(game)
    assert (rough.success, rough.status) == (False, 1)
    assert "buyer 0 would still save 4.9e-05 of its cost" in rough.message, rough.message


@pytest.mark.parametrize(
    ("rounds", "buyers", "sellers", "field", "problem"),
    [
        (
            None,
            1000,
            290,
            "hop_distances",
            "(1000 buyers + 290 sellers) x 290 sellers^2 = 1.08e+08",
        ),
        (91, 1000, 50, "max_rounds", "is 91, but 1000 buyers x 50 sellers can play at most 90"),
        (10_000, 30, 10, "max_rounds", "at most 3267 rounds"),
    ],
)
def test_work_beyond_the_service_bound_is_refused(
    rounds: int | None, buyers: int, sellers: int, field: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(problem)) as info:
        work.check_work(rounds, buyers, sellers)
    assert info.value.field == field
    work.check_work(None, 1000, 270)  # within the bounds
    work.check_work(90, 1000, 50)
    assert work.play_work(90, 1000, 50) <= work.PLAY_WORK_LIMIT < work.play_work(91, 1000, 50)


GAME: dict[str, Any] = {
    "demands": [5.0, 6.0],
    "sellers_price": [0.1, 0.2, 0.3],
    "sellers_capacity": [10.0, 10.0, 10.0],
    "hop_distances": [[1, 2, 3], [3, 2, 1]],
}


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"demands": [5.0, -6.0]}, "demands[1]", "negative"),
        ({"demands": [5.0, float("nan")]}, "demands[1]", "finite"),
        ({"demands": []}, "demands", "empty"),
        ({"demands": [20.0, 20.0]}, "demands", "exceeds the sellers' total capacity"),
        ({"sellers_price": [0.1, 0.0, 0.3]}, "sellers_price[1]", "positive"),
        ({"sellers_capacity": [10.0, 10.0]}, "sellers_capacity", "has 2 entries"),
        ({"sellers_capacity": [10.0, 0.0, 10.0]}, "sellers_capacity[1]", "positive"),
        ({"hop_distances": [[1, 2, 3]]}, "hop_distances", "has 1 rows"),
        ({"hop_distances": [[1, 2], [3, 2]]}, "hop_distances", "has 2 columns"),
        ({"hop_distances": [[1, 2, 3], [3, 2]]}, "hop_distances[1]", "has 2 entries"),
        ({"hop_distances": [1, 2, 3]}, "hop_distances[0]", "list of numbers"),
        ({"hop_distances": [[[1, 2, 3]], [[3, 2, 1]]]}, "hop_distances", "matrix"),
        ({"hop_distances": [[1, 2, 3], [3, -2, 1]]}, "hop_distances[1][1]", "negative"),
        ({"hop_distances": [[1, 2, 3], 4]}, "hop_distances[1]", "list of numbers"),
        ({"transmission_cost_per_hop": float("inf")}, "transmission_cost_per_hop", "finite"),
        ({"grid_price": -1.0}, "grid_price", "positive"),
        ({"method": "anarchy"}, "method", "'potential' or 'best-response'"),
        ({"order": [0, 0]}, "order", "permutation"),
        ({"order": [0]}, "order", "permutation"),
        ({"order": [0.5, 1.0]}, "order", "buyer indices"),
        ({"method": "best-response", "order": [1, 2]}, "order", "permutation"),
        ({"method": "best-response", "epsilon": 0.0}, "epsilon", "positive"),
        ({"method": "best-response", "epsilon": float("nan")}, "epsilon", "finite"),
        ({"method": "best-response", "max_rounds": 0}, "max_rounds", "positive integer"),
        ({"method": "best-response", "max_rounds": 2.5}, "max_rounds", "positive integer"),
        ({"tol": -1e-9}, "tol", "negative"),
        ({"tol": 0.0}, "tol", "positive"),
    ],
)
def test_bad_game_is_a_value_error_naming_the_argument(
    change: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=problem) as info:
        equilibrium(**{**GAME, **change})
    assert info.value.field == field


def test_total_demand_over_capacity_by_rounding_is_scaled() -> None:
    res = equilibrium([10.0, 10.0 + 1e-12], [0.1, 0.2], [10.0, 10.0], [[0, 0], [0, 0]])
    assert res.success
    np.testing.assert_allclose(res.loads, [10.0, 10.0])
