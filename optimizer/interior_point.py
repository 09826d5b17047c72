"""A primal-dual interior-point method (Mehrotra predictor-corrector) for the market's QP:

    minimise   sum_ij (q_j x_ij^2 + c_ij x_ij) + sum_j (p_j L_j + s_j L_j^2) + g sum_i y_i
    subject to sum_j x_ij + y_i = D_i,  sum_i x_ij + u_j = C_j  (L_j = C_j - u_j),
               x, y, u >= 0   (no y without a grid price g; q may be 0).

In these variables the Hessian is diagonal, so each Newton system reduces, by the Schur
complement on the buyer rows, to one dense S x S system: O(B S^2) per iteration, and the
iteration count hardly depends on the size. It is robust where active-set methods zig-zag;
``dual_newton`` polishes its answer to machine precision when it can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from optimizer.dual_newton import Problem
from optimizer.results import Array

TOL = 1e-10
"""Relative primal and dual residuals, and duality gap relative to the objective."""
MAXITER = 200
STALLED = 1e-15
"""Duality gap (relative) below which further iterations cannot reduce the residuals."""


@dataclass(frozen=True)
class IPMSolution:
    x: Array
    grid: Array
    nu: Array  # multipliers of the sellers' rows, in the sign convention of ``dual_newton``
    nit: int
    converged: bool


@dataclass(frozen=True)
class _Scaled:
    """The problem with kWh and money scaled to O(1); y is empty without a grid."""

    d: Array
    cap: Array
    qx: Array
    fx: Array
    qu: Array
    fu: Array
    fy: float
    grid: bool


@dataclass(frozen=True)
class _Point:
    """Primal (x, u, y), dual (lam, rho) and bound multipliers (zx, zu, zy)."""

    x: Array
    u: Array
    y: Array
    lam: Array
    rho: Array
    zx: Array
    zu: Array
    zy: Array

    def step(self, d: _Point, a: float) -> _Point:
        return _Point(*(v + a * dv for v, dv in zip(self._values(), d._values(), strict=True)))

    def _values(self) -> tuple[Array, ...]:
        return self.x, self.u, self.y, self.lam, self.rho, self.zx, self.zu, self.zy

    def gap(self) -> float:
        return float(np.sum(self.x * self.zx) + self.u @ self.zu + self.y @ self.zy)

    def gap_after(self, d: _Point, a: float) -> float:
        """``self.step(d, a).gap()`` without building the point."""
        return float(
            np.sum((self.x + a * d.x) * (self.zx + a * d.zx))
            + (self.u + a * d.u) @ (self.zu + a * d.zu)
            + (self.y + a * d.y) @ (self.zy + a * d.zy)
        )

    def max_step(self, d: _Point) -> float:
        pairs = (
            (self.x, d.x),
            (self.u, d.u),
            (self.y, d.y),
            (self.zx, d.zx),
            (self.zu, d.zu),
            (self.zy, d.zy),
        )
        return min(
            float(np.min(-v[dv < -1e-300] / dv[dv < -1e-300], initial=np.inf)) for v, dv in pairs
        )


def _scale(pb: Problem) -> tuple[_Scaled, float, float]:
    kwh = max(float(pb.demand.max()), float(pb.capacity.max()), 1e-300)
    fu = -(pb.p + 2.0 * pb.s * pb.capacity)  # d/du of p (C - u) + s (C - u)^2 at u = 0
    money = max(float(np.abs(pb.c).max()), float(np.abs(fu).max()), pb.grid_price or 0.0, 1e-300)
    qx = np.broadcast_to(2.0 * pb.q * kwh / money, pb.c.shape)
    return (
        _Scaled(
            pb.demand / kwh,
            pb.capacity / kwh,
            qx,
            pb.c / money,
            2.0 * pb.s * kwh / money,
            fu / money,
            (pb.grid_price or 0.0) / money,
            pb.grid_price is not None,
        ),
        kwh,
        money,
    )


def _residuals(sp: _Scaled, v: _Point) -> tuple[Array, Array, Array, Array, Array]:
    rdx = sp.qx * v.x + sp.fx - v.lam[:, None] - v.rho[None, :] - v.zx
    rdu = sp.qu * v.u + sp.fu - v.rho - v.zu
    rdy = sp.fy - v.lam[: v.y.size] - v.zy
    rpb = sp.d - v.x.sum(axis=1)
    rpb[: v.y.size] -= v.y
    rps = sp.cap - v.x.sum(axis=0) - v.u
    return rdx, rdu, rdy, rpb, rps


@dataclass(frozen=True)
class _System:
    """The Newton system at one point: diagonal blocks and the factored S x S Schur complement."""

    tx: Array
    tu: Array
    ty: Array
    d_b: Array
    schur: Array
    factor: tuple[Array, bool] | None

    @classmethod
    def at(cls, sp: _Scaled, v: _Point) -> _System:
        tx = 1.0 / (sp.qx + v.zx / v.x)
        tu = 1.0 / (sp.qu + v.zu / v.u)
        ty = v.y / v.zy
        d_b = tx.sum(axis=1)
        d_b[: ty.size] += ty
        # einsum, not BLAS: OpenBLAS threads slow this small product down 100x on a busy machine
        schur = np.diag(tx.sum(axis=0) + tu) - np.einsum("ij,ik->jk", tx / d_b[:, None], tx)
        try:
            factor: tuple[Array, bool] | None = cho_factor(schur)
        except np.linalg.LinAlgError:
            factor = None
        return cls(tx, tu, ty, d_b, schur, factor)

    def solve(self, rhs: Array) -> Array:
        if self.factor is not None:
            return np.asarray(cho_solve(self.factor, rhs))
        return np.asarray(np.linalg.lstsq(self.schur, rhs, rcond=None)[0], dtype=np.float64)


def _direction(
    sys_: _System, v: _Point, res: tuple[Array, ...], targets: tuple[Array, ...]
) -> _Point:
    """The Newton step towards the complementarity ``targets`` (x zx = cx, ...)."""
    rdx, rdu, rdy, rpb, rps = res
    cx, cu, cy = targets
    tx, tu, ty, d_b = sys_.tx, sys_.tu, sys_.ty, sys_.d_b
    ax = tx * (-rdx + cx / v.x)
    au = tu * (-rdu + cu / v.u)
    ay = ty * (-rdy + cy / v.y)
    r1 = rpb - ax.sum(axis=1)
    r1[: v.y.size] -= ay
    r2 = rps - ax.sum(axis=0) - au
    drho = sys_.solve(r2 - np.einsum("ij,i->j", tx, r1 / d_b))
    dlam = (r1 - np.einsum("ij,j->i", tx, drho)) / d_b
    dx = ax + tx * (dlam[:, None] + drho[None, :])
    du = au + tu * drho
    dy = ay + ty * dlam[: v.y.size]
    return _Point(
        dx,
        du,
        dy,
        dlam,
        drho,
        (cx - v.zx * dx) / v.x,
        (cu - v.zu * du) / v.u,
        (cy - v.zy * dy) / v.y,
    )


NEIGHBOURHOOD = 1e-4
"""Every product x z stays above this fraction of the average: keeps the iterates away from
the boundary, where Mehrotra's steps can cycle (seen on small LP-like cases)."""


def _centred(v: _Point, d: _Point, a: float, n: int) -> float:
    """The longest step, at most ``a``, that keeps the next point in the neighbourhood."""
    for _ in range(40):
        products = [
            (v.x + a * d.x) * (v.zx + a * d.zx),
            (v.u + a * d.u) * (v.zu + a * d.zu),
            (v.y + a * d.y) * (v.zy + a * d.zy),
        ]
        total = sum(float(p.sum()) for p in products)
        smallest = min(float(p.min(initial=np.inf)) for p in products)
        if smallest >= NEIGHBOURHOOD * total / n:
            return a
        a *= 0.7
    return a


def _targets(v: _Point, mu: float, aff: _Point | None) -> tuple[Array, Array, Array]:
    """Complementarity targets mu - x z (- dx dz, Mehrotra's second-order term)."""
    if aff is None:
        return mu - v.x * v.zx, mu - v.u * v.zu, mu - v.y * v.zy
    return (
        mu - v.x * v.zx - aff.x * aff.zx,
        mu - v.u * v.zu - aff.u * aff.zu,
        mu - v.y * v.zy - aff.y * aff.zy,
    )


def solve(pb: Problem, tol: float = TOL, maxiter: int = MAXITER) -> IPMSolution:
    sp, kwh, money = _scale(pb)
    B, S = pb.c.shape
    nb = B if sp.grid else 0
    x = np.broadcast_to((sp.d[:, None] + 1.0) / (2 * S), (B, S)).copy()
    v = _Point(
        x,
        np.maximum(sp.cap - x.sum(axis=0), 0.0) + 1.0,
        (sp.d[:nb] + 1.0) / 2,
        np.zeros(B),
        np.zeros(S),
        np.ones((B, S)),
        np.ones(S),
        np.ones(nb),
    )
    norm_b = 1.0 + max(float(sp.d.max()), float(sp.cap.max()))
    norm_f = 1.0 + max(float(np.abs(sp.fx).max()), float(np.abs(sp.fu).max()), sp.fy)
    n = x.size + S + nb
    nit, converged = 0, False
    while True:
        res = _residuals(sp, v)
        rdx, rdu, rdy, rpb, rps = res
        gap = v.gap()
        objective = float(
            np.sum((0.5 * sp.qx * v.x + sp.fx) * v.x)
            + (0.5 * sp.qu * v.u + sp.fu) @ v.u
            + sp.fy * v.y.sum()
        )
        err_p = max(float(np.abs(rpb).max()), float(np.abs(rps).max())) / norm_b
        err_d = (
            max(
                float(np.abs(rdx).max()),
                float(np.abs(rdu).max()),
                float(np.abs(rdy).max(initial=0.0)),
            )
            / norm_f
        )
        if err_p < tol and err_d < tol and gap < tol * (1.0 + abs(objective)):
            converged = True
            break
        if gap < STALLED * (1.0 + abs(objective)):
            # complementarity is gone but rounding holds the residuals up (e.g. demand equal
            # to capacity: no strictly feasible point); accept what is close enough
            converged = max(err_p, err_d) < math.sqrt(tol)
            break
        if nit == maxiter:
            break
        nit += 1
        # predictor: straight to complementarity 0; corrector: centred, second-order term
        sys_ = _System.at(sp, v)
        aff = _direction(sys_, v, res, _targets(v, 0.0, None))
        a_aff = min(1.0, v.max_step(aff))
        sigma = (v.gap_after(aff, a_aff) / gap) ** 3 if gap > 0 else 0.0
        mu = sigma * gap / n
        cor = _direction(sys_, v, res, _targets(v, mu, aff))
        a = min(1.0, 0.995 * v.max_step(cor))
        if v.gap_after(cor, a) > (1.0 - 0.01 * a) * gap:
            # Mehrotra's correction can stall (seen on degenerate LP-like cases): take a plain
            # step towards the central path instead
            cor = _direction(sys_, v, res, _targets(v, 0.5 * gap / n, None))
            a = min(1.0, 0.995 * v.max_step(cor))
            while a > 1e-8 and v.gap_after(cor, a) > (1.0 - 0.25 * a) * gap:
                a *= 0.5  # the gap falls at rate gap / 2 for small steps: Armijo
        v = v.step(cor, _centred(v, cor, a, n))
    # interior points are never exactly 0: drop what is below the tolerance
    x = np.where(v.x > tol, v.x, 0.0) * kwh
    grid = np.where(v.y > tol, v.y, 0.0) * kwh if sp.grid else np.zeros(B)
    return IPMSolution(x, grid, -v.rho * money, nit, converged)
