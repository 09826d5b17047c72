"""A buyer's best response: the exact solution of

    minimise   sum_j a_j x_j + b_j x_j^2   (+ g * grid)
    subject to sum_j x_j (+ grid) = D,  0 <= x_j <= r_j  (grid >= 0)

with a_j = p_j (1 + U_j / C_j) + t h_j, b_j = p_j / C_j and the room r_j = C_j - U_j left by the
other buyers' loads U_j. The KKT conditions give x_j = clip((lambda - a_j) / (2 b_j), 0, r_j)
for one multiplier lambda; the total bought is piecewise linear and non-decreasing in lambda
with breakpoints a_j (seller j starts selling) and a_j + 2 b_j r_j (seller j is full), so
sorting the 2S breakpoints finds lambda exactly in O(S log S). With a grid price g the grid is
one more seller at constant marginal cost g: lambda never exceeds g, the rest comes from the
grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from optimizer.errors import InvalidInputError
from optimizer.results import Array, BestResponseResult
from optimizer.validation import LOAD_TOLERANCE, as_array, as_number, loads_within, same_length

DEFAULT_TRANSMISSION_COST = 0.02
"""Transmission cost per hop (currency/kWh/hop) of the original system."""

Method = Literal["exact", "slsqp"]
ArrayLike = Sequence[float] | Array


def solve_capped_simplex(
    demand: float, a: Array, b: Array, room: Array, grid_price: float | None = None
) -> tuple[Array, float, float]:
    """The KKT solution for checked inputs: ``(x, lambda, grid import)``.

    Needs b > 0, room >= 0, demand >= 0, and demand <= sum(room) unless there is a grid price
    (a small excess from rounding fills every seller).
    """
    w = 0.5 / b
    pts = np.concatenate((a, a + room / w))
    order = np.argsort(pts)
    pts = pts[order]
    slope = np.cumsum(np.concatenate((w, -w))[order])
    # total(lambda) at each breakpoint: total(pts[0]) = 0, linear in between
    total = np.empty_like(pts)
    total[0] = 0.0
    np.cumsum(slope[:-1] * np.diff(pts), out=total[1:])

    if grid_price is not None and grid_price < pts[-1]:
        k = int(np.searchsorted(pts, grid_price, side="right")) - 1
        at_g = 0.0 if k < 0 else total[k] + slope[k] * (grid_price - pts[k])
        if at_g < demand:
            x = np.clip((grid_price - a) * w, 0.0, room)
            return x, grid_price, max(demand - float(x.sum()), 0.0)
    elif grid_price is not None and total[-1] < demand:
        return room.copy(), grid_price, demand - float(room.sum())

    if demand <= 0.0:
        open_ = room > 0
        lam = float(a[open_].min()) if open_.any() else float("nan")
        return np.zeros_like(a), lam, 0.0
    k = int(np.searchsorted(total, demand, side="left"))
    if k >= pts.size:  # demand == capacity up to rounding: every seller full
        return room.copy(), float(pts[-1]), 0.0
    step = (demand - total[k - 1]) / slope[k - 1] if slope[k - 1] > 0 else 0.0
    lam = min(pts[k - 1] + step, pts[k])
    x = np.clip((lam - a) * w, 0.0, room)
    # one Newton step on lambda removes the rounding left in sum(x) - demand
    free = (x > 0.0) & (x < room)
    if free.any():
        lam += (demand - x.sum()) / w[free].sum()
        x = np.clip((lam - a) * w, 0.0, room)
    return x, float(lam), 0.0


def solve_capped_simplex_rows(
    demand: Array, a: Array, b: Array, room: Array, grid_price: float | None = None
) -> tuple[Array, Array]:
    """``solve_capped_simplex`` for many buyers at once (one per row): ``(x, grid imports)``."""
    w = np.broadcast_to(0.5 / b, a.shape)
    pts = np.concatenate((a, a + room / w), axis=1)
    order = np.argsort(pts, axis=1)
    pts = np.take_along_axis(pts, order, axis=1)
    slope = np.cumsum(np.take_along_axis(np.concatenate((w, -w), axis=1), order, axis=1), axis=1)
    total = np.zeros_like(pts)
    np.cumsum(slope[:, :-1] * np.diff(pts, axis=1), axis=1, out=total[:, 1:])
    k = (total < demand[:, None]).sum(axis=1)
    rows = np.arange(a.shape[0])
    inside = (k > 0) & (k < pts.shape[1])
    lam = pts[:, 0].copy()  # zero demand: nothing bought
    lam[k == pts.shape[1]] = np.inf  # more than the sellers' room: all full (+ grid)
    ki, ri = k[inside] - 1, rows[inside]
    step = (demand[ri] - total[ri, ki]) / np.maximum(slope[ri, ki], 1e-300)
    lam[ri] = np.minimum(pts[ri, ki] + step, pts[ri, ki + 1])
    if grid_price is not None:
        lam = np.minimum(lam, grid_price)
    x = np.clip((lam[:, None] - a) * w, 0.0, room)
    grid = (
        np.maximum(demand - x.sum(axis=1), 0.0)
        if grid_price is not None
        else (np.zeros_like(demand))
    )
    return x, grid


def buyer_coefficients(
    price: Array, capacity: Array, used: Array, hops: Array, t: float
) -> tuple[Array, Array, Array]:
    """(a, b, room) of the buyer's problem; ``used`` must already be checked against capacity."""
    b = price / capacity
    return price + b * used + t * hops, b, np.maximum(capacity - used, 0.0)


def best_response(
    buyer_demand: float,
    sellers_price: ArrayLike,
    sellers_capacity: ArrayLike,
    used_capacities: ArrayLike | None = None,
    hop_distances: ArrayLike | None = None,
    *,
    transmission_cost_per_hop: float = DEFAULT_TRANSMISSION_COST,
    grid_price: float | None = None,
    method: Method = "exact",
) -> BestResponseResult:
    """The cost-minimising split of ``buyer_demand`` kWh among the sellers.

    ``used_capacities`` are the loads the other buyers put on each seller (default 0),
    ``hop_distances`` the buyer's distance to each seller (default 0). Without ``grid_price``,
    demand above the sellers' room (capacity minus used) is an error; with it, the grid
    supplies whatever costs more than ``grid_price`` at the margin. ``method="slsqp"`` runs the
    original system's SLSQP instead (a reference, slower and approximate).
    Raises ``InvalidInputError`` (a ``ValueError``) naming the bad argument.
    """
    demand = as_number("buyer_demand", buyer_demand)
    price = as_array("sellers_price", sellers_price, 1, positive=True)
    capacity = as_array("sellers_capacity", sellers_capacity, 1, positive=True)
    same_length("sellers_capacity", capacity, "sellers_price", price)
    used = _optional("used_capacities", used_capacities, price)
    hops = _optional("hop_distances", hop_distances, price)
    t = as_number("transmission_cost_per_hop", transmission_cost_per_hop)
    g = None if grid_price is None else as_number("grid_price", grid_price, positive=True)
    room = loads_within("used_capacities", used, capacity, "sellers_capacity")
    available = float(room.sum())
    if g is None and demand > available * (1 + LOAD_TOLERANCE):
        raise InvalidInputError(
            "buyer_demand",
            f"{demand:g} kWh exceeds the {available:g} kWh the sellers have left "
            "(sellers_capacity - used_capacities) and no grid_price is given",
        )
    a, b, room = buyer_coefficients(price, capacity, used, hops, t)
    if method == "slsqp":
        from optimizer.slsqp import slsqp_best_response

        return slsqp_best_response(demand, a, b, room, g)
    if method != "exact":
        raise InvalidInputError("method", f"must be 'exact' or 'slsqp', got {method!r}")
    x, lam, grid = solve_capped_simplex(demand, a, b, room, g)
    cost = float(x @ (a + b * x)) + (grid * g if g is not None else 0.0)
    return BestResponseResult(x=x, grid=grid, cost=cost, marginal_price=lam, method="exact")


def _optional(name: str, value: ArrayLike | None, like: Array) -> Array:
    if value is None:
        return np.zeros_like(like)
    arr = as_array(name, value, 1)
    same_length(name, arr, "sellers_price", like)
    return arr
