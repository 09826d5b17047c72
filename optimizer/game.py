"""A whole game (B buyers, S sellers), checked once, and what it costs.

Unit price of seller j under load L_j: p_j (1 + L_j / C_j). Buyer i pays
sum_j x_ij (p_j (1 + L_j / C_j) + t h_ij) plus g for each kWh from the grid. The potential

    Phi(x) = sum_j [p_j L_j + (p_j / (2 C_j)) (L_j^2 + sum_i x_ij^2)] + sum_ij t h_ij x_ij + g y

has buyer i's marginal cost as its gradient in x_ij, so its minimiser is the equilibrium.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.best_response import DEFAULT_TRANSMISSION_COST, fill
from optimizer.errors import InvalidInputError
from optimizer.results import Array
from optimizer.validation import LOAD_TOLERANCE, as_array, as_number, same_length

MatrixLike = Sequence[Sequence[float]] | Array
VectorLike = Sequence[float] | Array


@dataclass(frozen=True)
class Game:
    demands: Array  # (B,) kWh
    price: Array  # (S,) base price per kWh
    capacity: Array  # (S,) kWh
    hops: Array  # (B, S)
    t: float  # transmission cost per hop
    grid_price: float | None

    @property
    def transmission(self) -> Array:
        """t h_ij: the transmission cost per kWh of each pair (B, S)."""
        return self.t * self.hops


def make_game(
    demands: VectorLike,
    sellers_price: VectorLike,
    sellers_capacity: VectorLike,
    hop_distances: MatrixLike,
    transmission_cost_per_hop: float = DEFAULT_TRANSMISSION_COST,
    grid_price: float | None = None,
) -> Game:
    """Check a game's inputs; raises ``InvalidInputError`` (a ``ValueError``) naming the field."""
    d = as_array("demands", demands, 1)
    p = as_array("sellers_price", sellers_price, 1, positive=True)
    c = as_array("sellers_capacity", sellers_capacity, 1, positive=True)
    same_length("sellers_capacity", c, "sellers_price", p)
    h = as_array("hop_distances", hop_distances, 2)
    same_length("hop_distances", h, "demands", d, axis=0)
    same_length("hop_distances", h, "sellers_price", p, axis=1)
    t = as_number("transmission_cost_per_hop", transmission_cost_per_hop)
    g = None if grid_price is None else as_number("grid_price", grid_price, positive=True)
    total, supply = float(d.sum()), float(c.sum())
    if g is None and total > supply * (1 + LOAD_TOLERANCE):
        raise InvalidInputError(
            "demands",
            f"the total demand {total:g} kWh exceeds the sellers' total capacity {supply:g} kWh "
            "and no grid_price is given",
        )
    if g is None and total > supply:  # rounding: scale down to what exists
        d = d * (supply / total)
    return Game(d, p, c, h, t, g)


FEASIBILITY = 1e-10
"""Largest relative miss of a buyer's demand that ``feasible`` leaves alone."""


def feasible(game: Game, x: Array, grid: Array) -> tuple[Array, Array]:
    """``(x, grid)`` moved onto the constraints: x >= 0, loads <= capacity, grid >= 0 (0
    without a grid price), each buyer's row plus its import equal to its demand. A solver's
    answer misses them by rounding, or by more where its tolerance (relative to the largest
    demand or capacity) is coarse for one buyer: 1e-3 kWh among 1e7 kWh sellers. An excess
    comes off the import, then off the row in proportion; a shortfall goes to the sellers
    with room and the grid, cheapest for that buyer first."""
    x = np.maximum(x, 0.0)
    loads = x.sum(axis=0)
    x = x * (game.capacity / np.maximum(loads, game.capacity))  # overloaded sellers
    rows = x.sum(axis=1)
    if game.grid_price is None:
        grid = np.zeros_like(rows)
    else:
        grid = np.minimum(np.maximum(grid, 0.0), np.maximum(game.demands - rows, 0.0))
    over = rows > game.demands
    x[over] *= (game.demands[over] / rows[over])[:, None]
    short = np.maximum(game.demands - x.sum(axis=1) - grid, 0.0)
    room = np.maximum(game.capacity - x.sum(axis=0), 0.0)
    for i in np.flatnonzero(short > FEASIBILITY * game.demands):
        cost = unit_prices(game, game.capacity - room) + game.transmission[i]
        slack = room
        if game.grid_price is not None:  # the grid: one more seller, without a limit
            cost, slack = np.append(cost, game.grid_price), np.append(room, np.inf)
        order = np.argsort(cost, kind="stable")
        move = np.empty_like(slack)
        move[order] = fill(float(short[i]), slack[order])
        x[i] += move[: room.size]
        room -= move[: room.size]
        grid[i] += move[room.size :].sum()
    return x, grid


def unit_prices(game: Game, loads: Array) -> Array:
    return game.price * (1.0 + loads / game.capacity)


def buyer_costs(game: Game, x: Array, grid: Array) -> Array:
    """What each buyer pays for ``x`` (and its grid import) at the loads ``x`` makes."""
    prices = unit_prices(game, x.sum(axis=0))
    costs = (x * (prices + game.transmission)).sum(axis=1)
    if game.grid_price is not None:
        costs = costs + game.grid_price * grid
    return costs


def total_cost(game: Game, x: Array, grid: Array) -> float:
    """sum_j p_j L_j (1 + L_j / C_j) + transmission + grid: what all buyers pay together."""
    return float(buyer_costs(game, x, grid).sum())


def potential(game: Game, x: Array, grid: Array) -> float:
    loads = x.sum(axis=0)
    b = game.price / (2.0 * game.capacity)
    value = float(
        loads @ (game.price + b * loads) + (b * x * x).sum() + (game.transmission * x).sum()
    )
    if game.grid_price is not None:
        value += game.grid_price * float(grid.sum())
    return value
