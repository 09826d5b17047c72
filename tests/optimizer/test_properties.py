"""Properties (hypothesis, derandomised): feasibility, KKT, never costlier than the SLSQP
reference, the grid caps the marginal price, and play meets the potential's minimiser; and
whatever the validation accepts, however extreme, gets an answer on the constraints."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import (
    InvalidInputError,
    best_response,
    equilibrium,
    make_game,
    minimum_total_cost,
)
from optimizer.best_response import buyer_coefficients
from optimizer.game import Game

eqmod = importlib.import_module("optimizer.equilibrium")

FAST = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _fractions() -> st.SearchStrategy[float]:
    return st.one_of(st.just(0.0), st.just(1.0), _floats(0.0, 1.0))


@dataclass
class Buyer:
    demand: float
    price: np.ndarray
    capacity: np.ndarray
    used: np.ndarray
    hops: np.ndarray
    t: float
    grid: float | None

    @property
    def sellers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(price, capacity, used, hops): the sellers as this buyer sees them."""
        return self.price, self.capacity, self.used, self.hops

    def solve(self, method: Literal["exact", "slsqp"] = "exact") -> Any:
        """The exact best response, or with "slsqp" the SLSQP reference's."""
        return best_response(
            self.demand,
            *self.sellers,
            transmission_cost_per_hop=self.t,
            grid_price=self.grid,
            method=method,
        )

    def coefficients(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return buyer_coefficients(*self.sellers, self.t)


@st.composite
def buyers(draw: st.DrawFn, grid: bool | None = None, max_sellers: int = 8) -> Buyer:
    n = draw(st.integers(1, max_sellers))
    vec = lambda s: np.array(draw(st.lists(s, min_size=n, max_size=n)))  # noqa: E731
    price, capacity = vec(_floats(0.01, 1.0)), vec(_floats(0.5, 100.0))
    used = capacity * vec(_fractions())
    hops = vec(st.integers(0, 5)).astype(float)
    t = draw(st.sampled_from([0.0, 0.02, 0.3]))
    with_grid = draw(st.booleans()) if grid is None else grid
    g = draw(_floats(0.02, 2.0)) if with_grid else None
    room = float((capacity - used).sum())
    demand = draw(_fractions()) * room * (1.5 if with_grid else 1.0)
    return Buyer(demand, price, capacity, used, hops, t, g)


def _cost(b: Buyer, x: np.ndarray) -> float:
    a, bb, _ = b.coefficients()
    rest = b.demand - float(x.sum())
    return float(x @ (a + bb * x)) + (b.grid * rest if b.grid is not None else 0.0)


def _scale(b: Buyer) -> float:
    return 1.0 + b.demand + float(b.capacity.max())


@FAST
@given(buyers())
def test_best_response_is_feasible(b: Buyer) -> None:
    res = b.solve()
    room = b.capacity - b.used
    tol = 1e-9 * _scale(b)
    assert np.all(res.x >= 0) and np.all(res.x <= room + tol)
    assert abs(res.x.sum() + res.grid - b.demand) <= tol
    assert res.grid >= 0 and (b.grid is not None or res.grid == 0)
    assert abs(res.cost - _cost(b, res.x)) <= 1e-9 * (1 + abs(res.cost))


@FAST
@given(buyers(), st.data())
def test_no_transfer_between_two_sellers_lowers_the_cost(b: Buyer, data: st.DataObject) -> None:
    res = b.solve()
    room = b.capacity - b.used
    base = _cost(b, res.x)
    a, bb, _ = b.coefficients()
    marginal = a + 2 * bb * res.x
    tol = 1e-9 * (1 + marginal.max())
    for j in np.flatnonzero(res.x > 1e-9 * _scale(b)):
        for k in np.flatnonzero(res.x < room - 1e-9 * _scale(b)):
            if j != k:
                assert marginal[j] <= marginal[k] + tol  # the KKT condition, pairwise
                room_k = room[k] - res.x[k]
                delta = min(res.x[j], room_k) * data.draw(_floats(1e-3, 1.0), label="share")
                moved = res.x.copy()
                moved[j] -= delta
                moved[k] += delta
                assert _cost(b, moved) >= base - 1e-9 * (1 + abs(base))


@SLOW
@given(buyers(max_sellers=6))
def test_cost_is_never_above_the_slsqp_reference(b: Buyer) -> None:
    exact, ref = b.solve(), b.solve("slsqp")
    room = b.capacity - b.used
    tol = 1e-9 * _scale(b)
    assert np.all(ref.x >= -tol) and np.all(ref.x <= room + tol) and ref.grid >= -tol
    # SLSQP may miss the demand by its own tolerance; by convexity, buying D' instead of D
    # saves at most lambda (D - D'), so this compares like with like
    shortfall = b.demand - float(ref.x.sum()) - ref.grid
    allowance = exact.marginal_price * shortfall if b.demand > 0 else 0.0
    assert exact.cost <= ref.cost + allowance + 1e-9 * (1 + abs(ref.cost))


@FAST
@given(buyers(grid=True))
def test_with_the_grid_the_marginal_price_never_exceeds_g(b: Buyer) -> None:
    res = b.solve()
    assert b.grid is not None
    a, bb, _ = b.coefficients()
    marginal = a + 2 * bb * res.x
    tol = 1e-9 * (1 + b.grid)
    assert res.marginal_price <= b.grid + tol
    assert np.all(marginal[res.x > 0] <= b.grid + tol)
    if res.grid > 1e-9 * _scale(b):  # importing: every seller with room costs at least g
        open_ = res.x < (b.capacity - b.used) - 1e-9 * _scale(b)
        assert np.all(marginal[open_] >= b.grid - tol)


@st.composite
def games(draw: st.DrawFn, roomy: bool) -> dict[str, Any]:
    n_b, n_s = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    demands = draw(
        st.lists(st.one_of(st.just(0.0), _floats(0.1, 30.0)), min_size=n_b, max_size=n_b)
    )
    price = draw(st.lists(_floats(0.02, 1.0), min_size=n_s, max_size=n_s))
    total = sum(demands)
    if roomy:  # no seller can fill up: best-response play must reach Phi's minimiser
        capacity = [1.5 * total + 1.0 + draw(_floats(0, 50)) for _ in range(n_s)]
    else:
        capacity = draw(st.lists(_floats(0.5, 40.0), min_size=n_s, max_size=n_s))
    hops = [draw(st.lists(st.integers(0, 5), min_size=n_s, max_size=n_s)) for _ in range(n_b)]
    grid = None if roomy or not draw(st.booleans()) else draw(_floats(0.05, 2.0))
    if grid is None and total > sum(capacity):
        demands = [d * sum(capacity) / total for d in demands]
    return {
        "demands": demands,
        "sellers_price": price,
        "sellers_capacity": capacity,
        "hop_distances": hops,
        "transmission_cost_per_hop": draw(st.sampled_from([0, 0.02])),
        "grid_price": grid,
    }


@SLOW
@given(games(roomy=True))
def test_turn_by_turn_play_reaches_the_potentials_minimiser(game: dict[str, Any]) -> None:
    pot = equilibrium(**game)
    play = equilibrium(
        **game, method="best-response", epsilon=1e-11, max_rounds=5000, keep_history=False
    )
    assert pot.success and play.success
    scale = 1.0 + max(game["demands"])
    np.testing.assert_allclose(play.x, pot.x, atol=1e-6 * scale)
    assert play.potential >= pot.potential - 1e-9 * (1 + abs(pot.potential))


@FAST
@given(games(roomy=False))
def test_phis_minimiser_is_certified_and_no_cheaper_than_the_social_optimum(
    game: dict[str, Any],
) -> None:
    res = equilibrium(**game)
    scale = 1.0 + max(game["demands"]) + max(game["sellers_capacity"])
    assert res.success and res.residual <= 1e-7 * scale
    assert abs(res.gap) <= 1e-8 * (1 + abs(res.potential))
    assert np.all(res.x >= 0) and np.all(res.loads <= np.array(game["sellers_capacity"]) + 1e-9)
    np.testing.assert_allclose(res.x.sum(axis=1) + res.grid, game["demands"], atol=1e-9 * scale)
    opt = minimum_total_cost(make_game(**game))
    assert opt.success and opt.total_cost <= res.total_cost + 1e-7 * (1 + res.total_cost)


@SLOW
@given(games(roomy=False))
def test_interior_point_path_agrees_with_dual_newton(game: dict[str, Any]) -> None:
    g = make_game(**game)
    fast = eqmod.potential_minimum(g)
    original = eqmod.NEWTON_FIRST
    try:
        setattr(eqmod, "NEWTON_FIRST", 0)  # noqa: B010 (a module attribute, set for this test)
        robust = eqmod.potential_minimum(g)
    finally:
        setattr(eqmod, "NEWTON_FIRST", original)  # noqa: B010
    scale = 1.0 + max(game["demands"]) + max(game["sellers_capacity"])
    assert fast[3] and robust[3]
    np.testing.assert_allclose(robust[0], fast[0], atol=1e-7 * scale)


def _extreme(positive: bool) -> st.SearchStrategy[float]:
    """Anything the validation accepts, spread over every order of magnitude."""
    low = -9 if positive else -12
    mags = st.floats(low, 9, allow_nan=False).map(lambda e: float(10**e))
    values = st.one_of(mags, st.sampled_from([1e-9, 1.0, 1e9]))
    return values if positive else st.one_of(st.just(0.0), values)


@FAST
@given(st.data())
def test_extreme_but_valid_inputs_give_finite_answers_or_a_named_error(
    data: st.DataObject,
) -> None:
    n_b, n_s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    vec = lambda s, n: data.draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    price, capacity = vec(_extreme(True), n_s), vec(_extreme(True), n_s)
    grid = data.draw(st.one_of(st.none(), _extreme(True)))
    t = data.draw(_extreme(False))
    try:
        br = best_response(
            data.draw(_extreme(False)),
            price,
            capacity,
            [c * data.draw(_fractions()) for c in capacity],
            vec(_extreme(False), n_s),
            transmission_cost_per_hop=t,
            grid_price=grid,
        )
        assert np.all(np.isfinite(br.x)) and np.isfinite(br.cost) and np.isfinite(br.grid)
    except InvalidInputError as exc:
        assert exc.field == "buyer_demand"  # more than the sellers have, and no grid
    try:
        eq = equilibrium(
            vec(_extreme(False), n_b),
            price,
            capacity,
            [vec(_extreme(False), n_s) for _ in range(n_b)],
            transmission_cost_per_hop=t,
            grid_price=grid,
        )
        assert np.all(np.isfinite(eq.x)) and np.isfinite(eq.total_cost)
    except InvalidInputError as exc:
        assert exc.field == "demands"


@FAST
@given(st.data())
def test_any_accepted_buyer_gets_an_answer_on_the_constraints(data: st.DataObject) -> None:
    """sum = demand (relative 2e-9: demand may exceed the room by rounding, 1e-9), 0 <= x <=
    room. Demand 1e-9 kWh once got 1e9 kWh, demand 50 at price 1e-9 got 55.5."""
    n = data.draw(st.integers(1, 6))
    vec = lambda s: np.array(data.draw(st.lists(s, min_size=n, max_size=n)))  # noqa: E731
    price, capacity = vec(_extreme(True)), vec(_extreme(True))
    used = capacity * vec(_fractions())
    grid = data.draw(st.one_of(st.none(), _extreme(True)))
    demand = data.draw(st.one_of(_extreme(False), st.just(float((capacity - used).sum()))))
    try:
        res = best_response(
            demand,
            price,
            capacity,
            used,
            vec(_extreme(False)),
            transmission_cost_per_hop=data.draw(_extreme(False)),
            grid_price=grid,
        )
    except InvalidInputError as exc:
        assert exc.field == "buyer_demand"  # more than the sellers have, and no grid
        return
    assert res.success and np.all(res.x >= 0) and np.all(res.x <= capacity - used)
    assert res.grid >= 0 and (grid is not None or res.grid == 0)
    assert abs(res.x.sum() + res.grid - demand) <= 2e-9 * demand
    assert np.isfinite(res.cost) and (demand == 0 or np.isfinite(res.marginal_price))


def _check_allocation(game: Game, x: np.ndarray, grid: np.ndarray) -> None:
    assert np.all(x >= 0) and np.all(x.sum(axis=0) <= game.capacity * (1 + 1e-12))
    assert np.all(grid >= 0) and (game.grid_price is not None or np.all(grid == 0))
    np.testing.assert_allclose(x.sum(axis=1) + grid, game.demands, rtol=1e-9, atol=0)


@FAST
@given(st.data())
def test_any_accepted_game_gets_answers_on_the_constraints(data: st.DataObject) -> None:
    """Every buyer's row plus import = its demand (relative 1e-9, however small it is next to
    the others), loads <= capacity, for the equilibrium and the social optimum; and a
    converged equilibrium leaves no buyer a saving over 1e-6 of its cost. A buyer of 1e-3 kWh
    among 1e7 kWh sellers once got nothing, converged."""
    n_b, n_s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    vec = lambda s, n: data.draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    try:
        game = make_game(
            vec(_extreme(False), n_b),
            vec(_extreme(True), n_s),
            vec(_extreme(True), n_s),
            [vec(_extreme(False), n_s) for _ in range(n_b)],
            data.draw(_extreme(False)),
            data.draw(st.one_of(st.none(), _extreme(True))),
        )
    except InvalidInputError as exc:
        assert exc.field == "demands"  # more than the sellers have, and no grid
        return
    eq = eqmod.equilibrium_of(game)
    _check_allocation(game, eq.x, eq.grid)
    assert not eq.success or eqmod.regret(game, eq.x, eq.grid).max() <= eqmod.REGRET
    opt = minimum_total_cost(game)
    _check_allocation(game, opt.x, opt.grid)
