"""The convex QP behind the equilibrium and the social optimum, solved exactly on its dual.

    minimise   sum_ij (q_j x_ij^2 + c_ij x_ij) + sum_j (p_j L_j + s_j L_j^2) + g sum_i y_i
    subject to sum_j x_ij + y_i = D_i,  x >= 0,  y >= 0 (y = 0 without a grid price g),
               L_j = sum_i x_ij <= C_j.

Relaxing ``L_j = sum_i x_ij`` with multipliers nu (one per seller) splits the problem: each
buyer solves a quadratic over its simplex (sort its S breakpoints; vectorised over all buyers),
each seller a scalar clip. The dual function is concave, piecewise quadratic and has S
variables only, so Newton's method with a backtracking line search reaches its maximiser in a
handful of steps; once the active sets are right, one step is exact. The primal
``x(nu)`` is then the unique minimiser, and primal minus dual value is the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimizer.best_response import solve_capped_simplex
from optimizer.results import Array

Mask = NDArray[np.bool_]

TOL = 1e-10
"""Default tolerance: largest |sum_i x_ij - L_j| relative to the largest capacity or demand."""
MAXITER = 100


@dataclass(frozen=True)
class Problem:
    demand: Array  # D (B,)
    q: Array  # q_j > 0 (S,): buyer-side quadratic coefficient
    c: Array  # c_ij (B, S): buyer-side linear coefficient
    p: Array  # p_j (S,): seller-side linear coefficient
    s: Array  # s_j > 0 (S,): seller-side quadratic coefficient
    capacity: Array  # C_j (S,)
    grid_price: float | None = None


@dataclass(frozen=True)
class Solution:
    x: Array
    grid: Array
    nu: Array
    primal: float  # objective at x
    dual: float  # dual function at nu (a lower bound on the minimum)
    violation: float  # max_j |sum_i x_ij - L_j(nu)| before the final repair, kWh
    nit: int
    converged: bool


def _buyers(pb: Problem, nu: Array) -> tuple[Array, Array, Mask]:
    """Each buyer's minimiser for seller prices nu: (x, lambda, capped-by-grid mask)."""
    e = pb.c + nu
    w = 0.5 / pb.q
    order = np.argsort(e, axis=1)
    es = np.take_along_axis(e, order, axis=1)
    ws = w[order]
    cw = np.cumsum(ws, axis=1)
    cwe = np.cumsum(ws * es, axis=1)
    # total bought when lambda reaches the (k+1)-th cheapest breakpoint, k = 0..S-2
    reached = es[:, 1:] * cw[:, :-1] - cwe[:, :-1]
    k = (reached < pb.demand[:, None]).sum(axis=1)
    rows = np.arange(e.shape[0])
    lam = (pb.demand + cwe[rows, k]) / cw[rows, k]
    capped = np.zeros(lam.shape, dtype=bool)
    if pb.grid_price is not None:
        capped = lam > pb.grid_price
        lam = np.minimum(lam, pb.grid_price)
    x = w * np.maximum(lam[:, None] - e, 0.0)
    return x, lam, capped


def _sellers(pb: Problem, nu: Array) -> Array:
    return np.clip((nu - pb.p) / (2.0 * pb.s), 0.0, pb.capacity)


def _dual(pb: Problem, nu: Array, x: Array, loads: Array) -> tuple[float, float]:
    """The dual function's value, and the size of its terms (for its rounding error)."""
    buyers = x * (pb.q * x + pb.c + nu)
    sellers = (pb.p - nu + pb.s * loads) * loads
    value = float(buyers.sum()) + float(sellers.sum())
    size = float(np.abs(buyers).sum()) + float(np.abs(sellers).sum())
    if pb.grid_price is not None:
        imports = pb.grid_price * float(np.maximum(pb.demand - x.sum(axis=1), 0.0).sum())
        value, size = value + imports, size + imports
    return value, size


def primal_value(pb: Problem, x: Array, grid: Array) -> float:
    loads = x.sum(axis=0)
    value = float(np.sum(x * (pb.q * x + pb.c))) + float(loads @ (pb.p + pb.s * loads))
    if pb.grid_price is not None:
        value += pb.grid_price * float(grid.sum())
    return value


def _hessian(pb: Problem, x: Array, capped: Mask, loads: Array) -> Array:
    """Minus the dual's (generalised) Hessian: positive semidefinite, S x S."""
    m = np.where(x > 0.0, 0.5 / pb.q, 0.0)
    total = m.sum(axis=1)
    full = ~capped & (total > 0.0)
    mf = m[full]
    # einsum, not BLAS: OpenBLAS threads slow this small product down 100x on a busy machine
    h = -np.einsum("ij,ik->jk", mf / total[full, None], mf)
    inner = (loads > 0.0) & (loads < pb.capacity)
    h[np.diag_indices_from(h)] += m.sum(axis=0) + np.where(inner, 0.5 / pb.s, 0.0)
    return h


def _water_level(pb: Problem) -> Array:
    """Start where every seller in use has the same marginal cost: the optimum when buyers are
    indifferent between sellers (no transmission cost, no buyer-side quadratic)."""
    total = min(float(pb.demand.sum()), float(pb.capacity.sum()))
    _, level, _ = solve_capped_simplex(total, pb.p, pb.s, pb.capacity, pb.grid_price)
    return np.maximum(level, pb.p) if np.isfinite(level) else pb.p.copy()


class _Point:
    """The dual at one nu: the buyers' and sellers' answers, the value and the gradient."""

    def __init__(self, pb: Problem, nu: Array) -> None:
        self.nu = nu
        self.x, _, self.capped = _buyers(pb, nu)
        self.loads = _sellers(pb, nu)
        self.value, self.magnitude = _dual(pb, nu, self.x, self.loads)
        self.grad = self.x.sum(axis=0) - self.loads
        self.size = float(np.abs(self.grad).max())


def solve(
    pb: Problem, nu0: Array | None = None, tol: float = TOL, maxiter: int = MAXITER
) -> Solution:
    """Maximise the dual by damped Newton steps; return the primal at the last nu."""
    target = tol * max(float(pb.capacity.max()), float(pb.demand.max()), 1.0)
    price_scale = float(np.max(pb.p + 2.0 * pb.s * pb.capacity) + np.abs(pb.c).max())
    curvature = float(np.max(0.5 / pb.s + 0.5 / pb.q))  # keeps the Newton system regular
    nu = (_water_level(pb) if nu0 is None else nu0).astype(np.float64)
    if pb.grid_price is None and pb.demand.sum() >= pb.capacity.sum():
        # every seller full: the dual is flat along nu + k; stay near the prices (rounding)
        nu -= max(float(np.min(nu - pb.p - 2.0 * pb.s * pb.capacity)), 0.0)
    here = _Point(pb, nu)
    nit = 0
    while here.size > target and nit < maxiter:
        nit += 1
        h = _hessian(pb, here.x, here.capped, here.loads)
        reg = 1e-12 * max(float(np.diag(h).max()), curvature)
        step = np.linalg.solve(h + reg * np.eye(h.shape[0]), here.grad)
        biggest = float(np.abs(step).max())
        if biggest > price_scale:
            step *= price_scale / biggest
        slope = float(here.grad @ step)
        noise = 1e-13 * (here.magnitude + 1.0)  # the value's own rounding error
        alpha = 1.0
        while True:
            trial = _Point(pb, here.nu + alpha * step)
            if (
                trial.size <= target
                or trial.value >= here.value + 1e-4 * alpha * slope
                or (trial.value >= here.value - noise and trial.size < here.size)
            ):
                break
            alpha *= 0.5
            if alpha < 1e-12:
                trial = here
                break
        if trial is here:  # no ascent left at this precision
            break
        here = trial
    x = here.x
    # repair: sellers overloaded by rounding give back the excess proportionally
    over = x.sum(axis=0)
    x = x * (pb.capacity / np.maximum(over, pb.capacity))
    grid = np.zeros_like(pb.demand)
    if pb.grid_price is not None:
        grid = np.maximum(pb.demand - x.sum(axis=1), 0.0)
    return Solution(
        x,
        grid,
        here.nu,
        primal_value(pb, x, grid),
        here.value,
        here.size,
        nit,
        here.size <= target,
    )
