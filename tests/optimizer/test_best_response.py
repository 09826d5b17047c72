"""Best response: known answers, the grid fallback, the SLSQP reference, every bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from optimizer import InvalidInputError, best_response
from optimizer.best_response import (
    buyer_coefficients,
    solve_capped_simplex,
    solve_capped_simplex_rows,
)


def test_demo_buyer_matches_the_closed_form(demo: dict[str, list]) -> None:
    """With room everywhere every seller is interior: lambda = (D + sum a/2b) / sum 1/2b."""
    p, c = np.array(demo["sellers_price"]), np.array(demo["sellers_capacity"])
    h = np.array(demo["hop_distances"][0], dtype=float)
    res = best_response(34.0, p, c, [0, 0, 0, 0], h)
    a, b = p + 0.02 * h, p / c
    lam = (34.0 + np.sum(a / (2 * b))) / np.sum(1 / (2 * b))
    np.testing.assert_allclose(res.x, (lam - a) / (2 * b), rtol=1e-12)
    assert res.marginal_price == pytest.approx(lam, rel=1e-12)
    assert res.cost == pytest.approx(float(np.sum(a * res.x + b * res.x**2)), rel=1e-12)
    assert (res.success, res.status, res.nit, res.method, res.grid) == (True, 0, 0, "exact", 0.0)


def test_capped_and_unused_sellers() -> None:
    # seller 0 has 0.5 kWh of room left, seller 2 is too dear: worked out by hand
    res = best_response(
        20.0, [0.1, 0.2, 0.5], [2.0, 100.0, 10.0], [1.5, 0.0, 0.0], transmission_cost_per_hop=0.0
    )
    np.testing.assert_allclose(res.x, [0.5, 19.5, 0.0], atol=1e-12)
    assert res.marginal_price == pytest.approx(0.278)
    assert res.cost == pytest.approx(4.7605)


def test_grid_takes_what_costs_more_than_its_price() -> None:
    res = best_response(
        20.0,
        [0.1, 0.2, 0.5],
        [2.0, 100.0, 10.0],
        [1.5, 0.0, 0.0],
        transmission_cost_per_hop=0.0,
        grid_price=0.25,
    )
    np.testing.assert_allclose(res.x, [0.5, 12.5, 0.0], atol=1e-12)
    assert res.grid == pytest.approx(7.0)
    assert res.marginal_price == 0.25
    assert res.cost == pytest.approx(4.6625)


def test_grid_supplies_demand_beyond_all_capacity() -> None:
    res = best_response(50.0, [0.1, 0.2], [10.0, 5.0], grid_price=10.0)
    np.testing.assert_allclose(res.x, [10.0, 5.0])
    assert res.grid == pytest.approx(35.0)


def test_grid_cheaper_than_every_seller_supplies_everything() -> None:
    res = best_response(5.0, [0.3, 0.4], [10.0, 10.0], grid_price=0.2)
    np.testing.assert_array_equal(res.x, [0.0, 0.0])
    assert res.grid == 5.0 and res.cost == pytest.approx(1.0)


def test_zero_demand_buys_nothing_and_reports_the_first_price() -> None:
    res = best_response(0.0, [0.3, 0.1], [10.0, 10.0], [0.0, 10.0], [0, 0])
    np.testing.assert_array_equal(res.x, [0.0, 0.0])
    assert res.cost == 0.0 and res.marginal_price == pytest.approx(0.3)


def test_demand_equal_to_the_room_fills_every_seller() -> None:
    res = best_response(12.0, [0.3, 0.1, 0.2], [10.0, 4.0, 5.0], [5.0, 0.0, 2.0])
    np.testing.assert_allclose(res.x, [5.0, 4.0, 3.0])


def test_full_sellers_get_nothing() -> None:
    res = best_response(3.0, [0.01, 0.5], [10.0, 10.0], [10.0, 0.0])
    np.testing.assert_allclose(res.x, [0.0, 3.0])


def test_defaults_are_no_load_and_no_distance() -> None:
    a = best_response(10.0, [0.1, 0.2], [10.0, 20.0])
    b = best_response(10.0, [0.1, 0.2], [10.0, 20.0], [0, 0], [0, 0])
    np.testing.assert_array_equal(a.x, b.x)


def test_slsqp_reference_is_feasible_but_not_cheaper(demo: dict[str, list]) -> None:
    args = (34.0, demo["sellers_price"], demo["sellers_capacity"], [10, 5, 0, 20], [1, 2, 3, 4])
    exact = best_response(*args)
    ref = best_response(*args, method="slsqp")
    assert ref.method == "slsqp" and ref.success and ref.status == 0 and ref.nit > 0
    assert math.isnan(ref.marginal_price)
    assert ref.x.sum() == pytest.approx(34.0) and ref.x.min() >= -1e-9
    # ftol 1e-3 stops SLSQP early: the original system paid for it
    assert exact.cost < ref.cost


def test_slsqp_reference_with_grid() -> None:
    # seller 1 stops at marginal cost 0.5: 0.2 + 2 (0.2 / 5) x = 0.5 at x = 3.75
    exact = best_response(50.0, [0.1, 0.2], [10.0, 5.0], grid_price=0.5)
    ref = best_response(50.0, [0.1, 0.2], [10.0, 5.0], grid_price=0.5, method="slsqp")
    np.testing.assert_allclose(exact.x, [10.0, 3.75])
    assert ref.grid == pytest.approx(exact.grid, abs=1e-3) and exact.grid == 36.25


def test_rows_kernel_matches_the_single_buyer_kernel() -> None:
    rng = np.random.default_rng(7)
    for grid in (None, 0.35):
        p, c = rng.uniform(0.05, 0.3, 6), rng.uniform(1, 20, 6)
        used = c * rng.uniform(0, 1, (9, 6)) * (rng.random((9, 6)) < 0.7)
        hops = rng.integers(0, 5, (9, 6)).astype(float)
        demand = rng.uniform(0, 1.2, 9) * (c - used).sum(axis=1)
        if grid is None:
            demand = np.minimum(demand, (c - used).sum(axis=1))
        demand[0] = 0.0
        a, b, room = buyer_coefficients(p, c, used, hops, 0.02)
        rows, grid_rows = solve_capped_simplex_rows(
            demand, a, np.broadcast_to(b, a.shape), room, grid
        )
        for i in range(9):
            x, _, g = solve_capped_simplex(float(demand[i]), a[i], b, room[i], grid)
            np.testing.assert_allclose(rows[i], x, atol=1e-9)
            assert grid_rows[i] == pytest.approx(g, abs=1e-9)


GOOD: dict[str, Any] = {
    "buyer_demand": 10.0,
    "sellers_price": [0.1, 0.2, 0.3],
    "sellers_capacity": [10.0, 10.0, 10.0],
    "used_capacities": [1.0, 2.0, 3.0],
    "hop_distances": [1.0, 2.0, 3.0],
}


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"buyer_demand": float("nan")}, "buyer_demand", "finite"),
        ({"buyer_demand": float("inf")}, "buyer_demand", "finite"),
        ({"buyer_demand": -1.0}, "buyer_demand", "negative"),
        ({"buyer_demand": 2e9}, "buyer_demand", "at most"),
        ({"buyer_demand": "ten"}, "buyer_demand", "number"),
        ({"buyer_demand": [1.0]}, "buyer_demand", "number"),
        ({"buyer_demand": 30.0}, "buyer_demand", "exceeds"),
        ({"sellers_price": [0.1, 0.0, 0.3]}, "sellers_price[1]", "positive"),
        ({"sellers_price": [0.1, -0.2, 0.3]}, "sellers_price[1]", "positive"),
        ({"sellers_price": [0.1, 1e-12, 0.3]}, "sellers_price[1]", "at least"),
        ({"sellers_price": [0.1, 0.2, float("nan")]}, "sellers_price[2]", "finite"),
        ({"sellers_price": []}, "sellers_price", "empty"),
        ({"sellers_price": [[0.1, 0.2, 0.3]]}, "sellers_price", "list of numbers"),
        ({"sellers_price": [0.1, "x", 0.3]}, "sellers_price", "list of numbers"),
        ({"sellers_capacity": [10.0, 0.0, 10.0]}, "sellers_capacity[1]", "positive"),
        ({"sellers_capacity": [10.0, 10.0]}, "sellers_capacity", "has 2 entries"),
        ({"sellers_capacity": [10.0, float("-inf"), 1.0]}, "sellers_capacity[1]", "finite"),
        ({"used_capacities": [1.0, -2.0, 3.0]}, "used_capacities[1]", "negative"),
        ({"used_capacities": [1.0, 2.0, 11.0]}, "used_capacities[2]", "exceeds"),
        ({"used_capacities": [1.0, 2.0]}, "used_capacities", "has 2 entries"),
        ({"hop_distances": [1.0, -2.0, 3.0]}, "hop_distances[1]", "negative"),
        ({"hop_distances": [1.0, 2.0, 3.0, 4.0]}, "hop_distances", "has 4 entries"),
        ({"transmission_cost_per_hop": -0.1}, "transmission_cost_per_hop", "negative"),
        ({"transmission_cost_per_hop": float("nan")}, "transmission_cost_per_hop", "finite"),
        ({"grid_price": 0.0}, "grid_price", "positive"),
        ({"grid_price": float("inf")}, "grid_price", "finite"),
        ({"method": "newton"}, "method", "'exact' or 'slsqp'"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(
    change: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        best_response(**{**GOOD, **change})
    assert isinstance(info.value, InvalidInputError)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_loads_over_capacity_by_rounding_are_accepted() -> None:
    res = best_response(5.0, [0.1, 0.2], [10.0, 10.0], [10.0 + 1e-12, 0.0])
    np.testing.assert_allclose(res.x, [0.0, 5.0])


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        # lambda's rounding step (2.8e-17) times C / 2p (5e17) is 14 kWh: it gave 55.5
        ((50.0, [1e-9], [1e9], [0.0], [10.0]), {}, [50.0]),
        # costs 1e9 apart, capacities 1e18 apart: the breakpoint sums gave 1e9 kWh (the
        # second seller's 5e-22 kWh is where its marginal cost 1e9 + 2e18 x meets 1e9 + 1e-3)
        (
            (1e-9, [1e-3, 1e9], [1e9, 1e-9], [0, 0], [1, 0]),
            {"transmission_cost_per_hop": 1e9},
            [1e-9, 0.0],
        ),
        ((1e-9, [1e-9, 1e-9], [1e9, 1e9], [0, 5e8], [0, 0]), {"grid_price": 1e9}, None),
    ],
)
def test_extreme_scales_still_meet_the_demand_within_the_room(
    args: tuple[Any, ...], kwargs: dict[str, Any], expected: list[float] | None
) -> None:
    res = best_response(*args, **kwargs)
    demand, room = args[0], np.array(args[2]) - np.array(args[3])
    assert res.success and np.all(res.x >= 0) and np.all(res.x <= room)
    assert abs(res.x.sum() + res.grid - demand) <= 1e-12 * demand
    if expected is not None:
        np.testing.assert_allclose(res.x, expected, rtol=1e-12, atol=1e-21)
        a, b, _ = buyer_coefficients(
            *(np.array(v, float) for v in args[1:]), kwargs.get("transmission_cost_per_hop", 0.02)
        )
        assert res.marginal_price == pytest.approx(float((a + 2 * b * res.x)[res.x > 0].max()))


def test_slsqp_reference_that_cannot_buy_is_a_failed_result() -> None:
    # the reference fixes sellers with under 1e-3 kWh of room at zero: here all of them
    res = best_response(0.0005, [0.1, 0.2], [10.0, 10.0], [9.9995, 9.9995], method="slsqp")
    assert (res.success, res.status, res.method) == (False, 2, "slsqp")
    assert "fixed by bounds" in res.message and res.nit == 0
    np.testing.assert_array_equal(res.x, [0.0, 0.0])
