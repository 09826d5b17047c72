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


PRECISION = 1e-10
"""Largest relative miss of the demand accepted from the sorted-breakpoint pass; beyond it
(only with costs spread over many orders of magnitude) the bisection fallback runs, and if
lambda itself cannot be told apart finely enough (a seller whose 1 / (2 b) = C / (2 p) is so
large that one rounding step of lambda moves many kWh), ``_settle`` moves the rest."""
SETTLE_PASSES = 4
"""Passes of ``_settle``: each leaves at most the rounding of the previous one's sum."""


def _bought(lam: float | Array, a: Array, w: Array, room: Array) -> Array:
    return np.minimum(np.maximum((lam - a) * w, 0.0), room)


def _newton(demand: float, lam: float, a: Array, w: Array, room: Array) -> tuple[Array, float]:
    """One Newton step on lambda: removes the rounding left in sum(x) - demand."""
    x = _bought(lam, a, w, room)
    free = (x > 0.0) & (x < room)
    if free.any():
        lam += (demand - float(x.sum())) / float(w[free].sum())
        x = _bought(lam, a, w, room)
    return x, float(lam)


def _between(
    demand: float, lo: float, hi: float, a: Array, w: Array, room: Array
) -> tuple[Array, float]:
    """The solution with lambda between the adjacent breakpoints ``lo`` and ``hi``, as an
    offset from ``lo``: x = x(lo) + delta w on the sellers open there. Adding delta to lambda
    instead would lose it when delta is below lambda's rounding step (lambda 1e9, delta 1e-21)."""
    base = _bought(lo, a, w, room)
    free = (a <= lo) & (a + room / w >= hi) & (room > 0.0)
    if not free.any():
        return base, lo
    delta = (demand - float(base.sum())) / float(w[free].sum())
    base[free] = np.minimum(np.maximum(base[free] + delta * w[free], 0.0), room[free])
    return base, lo + delta


def _bisect(demand: float, a: Array, w: Array, room: Array, pts: Array) -> tuple[Array, float]:
    """Binary search of the sorted breakpoints, summing directly at each: robust to rounding."""
    lo, hi = 0, pts.size - 1
    if _bought(pts[hi], a, w, room).sum() < demand:
        return room.copy(), float(pts[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _bought(pts[mid], a, w, room).sum() < demand:
            lo = mid
        else:
            hi = mid
    return _between(demand, float(pts[lo]), float(pts[hi]), a, w, room)


def fill(amount: float, slack: Array) -> Array:
    """``amount`` split over ``slack`` in its order: each entry takes what it can, the rest
    goes on (the prefix sums are exclusive, so a 1e-9 entry before a 1e9 one keeps its share)."""
    before = np.concatenate(([0.0], np.cumsum(slack)[:-1]))
    return np.minimum(slack, np.maximum(amount - before, 0.0))


def _settle(demand: float, x: Array, a: Array, b: Array, room: Array) -> Array:
    """``x`` clipped to ``[0, room]`` with its sum moved to ``demand``: a shortfall goes to the
    sellers with the lowest marginal cost ``a + 2 b x`` first, an excess comes back from the
    highest first. It moves what lambda's rounding could not express, so the KKT conditions
    hold to within lambda's own precision."""
    x = np.clip(x, 0.0, room)
    for _ in range(SETTLE_PASSES):
        miss = demand - float(x.sum())
        if abs(miss) <= PRECISION * demand:
            break
        marginal = a + 2.0 * b * x
        order = np.argsort(marginal if miss > 0 else -marginal)
        slack = (room - x if miss > 0 else x)[order]
        move = fill(abs(miss), slack)
        x[order] = np.clip(x[order] + np.copysign(move, miss), 0.0, room[order])
    return x


def solve_capped_simplex(
    demand: float, a: Array, b: Array, room: Array, grid_price: float | None = None
) -> tuple[Array, float, float]:
    """The KKT solution for checked inputs: ``(x, lambda, grid import)``.

    Needs b > 0, room >= 0, demand >= 0, and demand <= sum(room) unless there is a grid price
    (a small excess from rounding fills every seller).
    """
    w = 0.5 / b
    if grid_price is not None:
        x = _bought(grid_price, a, w, room)
        if x.sum() < demand:  # the sellers' kWh cheaper than g don't cover it: grid for the rest
            return x, grid_price, demand - float(x.sum())
    if demand <= 0.0:  # nothing to buy; lambda is the price of the first kWh
        open_ = room > 0
        lam = float(a[open_].min()) if open_.any() else float("inf")
        if grid_price is not None:
            lam = min(lam, grid_price)
        return np.zeros_like(a), lam if lam < np.inf else float("nan"), 0.0
    pts = np.concatenate((a, a + room / w))
    order = np.argsort(pts)
    pts = pts[order]
    slope = np.cumsum(np.concatenate((w, -w))[order])
    # total(lambda) at each breakpoint: total(pts[0]) = 0, linear in between
    total = np.empty_like(pts)
    total[0] = 0.0
    np.cumsum(slope[:-1] * np.diff(pts), out=total[1:])
    k = int(np.searchsorted(total, demand, side="left"))
    if k >= pts.size:  # demand == capacity up to rounding: every seller full
        x, lam = room.copy(), float(pts[-1])
    else:
        step = (demand - total[k - 1]) / slope[k - 1] if slope[k - 1] > 0 else 0.0
        x, lam = _newton(demand, min(pts[k - 1] + step, pts[k]), a, w, room)
    if abs(demand - float(x.sum())) > PRECISION * demand:
        x, lam = _bisect(demand, a, w, room, pts)
    if abs(demand - float(x.sum())) > PRECISION * demand:
        x = _settle(demand, x, a, b, room)
        bought = x > 0.0  # lambda: the marginal cost of the last kWh bought
        lam = float((a + 2.0 * b * x)[bought].max()) if bought.any() else lam
    return x, lam, 0.0


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
    gain = demand[ri] - total[ri, ki]
    step = np.divide(gain, slope[ri, ki], out=np.zeros_like(gain), where=slope[ri, ki] > 0)
    lam[ri] = np.minimum(pts[ri, ki] + step, pts[ri, ki + 1])
    if grid_price is not None:
        lam = np.minimum(lam, grid_price)
    x = np.minimum(np.maximum((lam[:, None] - a) * w, 0.0), room)
    grid = np.zeros_like(demand)
    if grid_price is not None:
        grid = np.where(lam >= grid_price, np.maximum(demand - x.sum(axis=1), 0.0), 0.0)
    # rows whose total missed the demand (rounding at extreme scales): solve them one by one
    for i in np.flatnonzero(np.abs(demand - x.sum(axis=1) - grid) > 1e-9 * demand):
        x[i], _, grid[i] = solve_capped_simplex(float(demand[i]), a[i], b[i], room[i], grid_price)
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
