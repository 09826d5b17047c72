"""Input checks shared by the solvers: every bad input is an ``InvalidInputError`` (a
``ValueError``) whose message starts with the argument's name, e.g. ``sellers_price[2]: ...``.

Numbers must be finite and within ``[0, LIMIT]``; prices and capacities must also be at least
``MIN_POSITIVE`` (zero capacity or price is an error: the unit price ``p (1 + L / C)`` needs
both). The bounds keep every intermediate quantity far from overflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import InvalidInputError

LIMIT = 1e9
"""Largest accepted amount, price, distance or cost (kWh, currency/kWh, hops)."""
MIN_POSITIVE = 1e-9
"""Smallest accepted price or capacity."""
LOAD_TOLERANCE = 1e-9
"""Relative slack for loads that exceed capacity (or demand that exceeds supply) by rounding."""

Array = NDArray[np.float64]


def _first(mask: NDArray[np.bool_]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _where(name: str, index: tuple[int, ...]) -> str:
    return name + "".join(f"[{i}]" for i in index)


def _check(name: str, arr: Array, positive: bool) -> None:
    """Finite, non-negative, at most LIMIT; at least MIN_POSITIVE when ``positive``."""
    low = MIN_POSITIVE if positive else 0.0
    # min/max are nan when any entry is nan, and +-inf fails the bounds: one pass each
    if arr.size and arr.min() >= low and arr.max() <= LIMIT:
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        i = _first(bad)
        raise InvalidInputError(_where(name, i), f"must be a finite number, got {arr[i]}")
    checks = (
        [(arr <= 0, "must be positive"), (arr < low, f"must be at least {MIN_POSITIVE:g}")]
        if positive
        else [(arr < 0, "must not be negative")]
    )
    for mask, problem in [*checks, (arr > LIMIT, f"must be at most {LIMIT:g}")]:
        if mask.any():
            i = _first(mask)
            raise InvalidInputError(_where(name, i), f"{problem}, got {arr[i]:g}")


def as_array(name: str, value: Any, ndim: int, *, positive: bool = False) -> Array:
    """``value`` as a float array with ``ndim`` dimensions and at least one entry, checked."""
    if ndim == 2 and isinstance(value, Sequence):
        _rectangular(name, value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        shape = "a number" if ndim == 0 else "a list of numbers" if ndim == 1 else "a matrix"
        raise InvalidInputError(name, f"must be {shape} ({exc})") from None
    if arr.ndim != ndim:
        want = {0: "a number", 1: "a list of numbers", 2: "a list of lists (a matrix)"}[ndim]
        raise InvalidInputError(name, f"must be {want}, got {arr.ndim} dimension(s)")
    if ndim and arr.size == 0:
        raise InvalidInputError(name, "must not be empty")
    _check(name, arr, positive)
    return arr


def _rectangular(name: str, rows: Sequence[Any]) -> None:
    width = None
    for i, row in enumerate(rows):
        if not isinstance(row, Sequence | np.ndarray):
            raise InvalidInputError(f"{name}[{i}]", "must be a list of numbers")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise InvalidInputError(
                f"{name}[{i}]", f"has {len(row)} entries but {name}[0] has {width}"
            )


def as_number(name: str, value: Any, *, positive: bool = False) -> float:
    return float(as_array(name, value, 0, positive=positive))


def same_length(name: str, arr: Array, other_name: str, other: Array, axis: int = 0) -> None:
    if arr.shape[axis] != other.shape[0]:
        what = "entries" if arr.ndim == 1 else ("rows" if axis == 0 else "columns")
        raise InvalidInputError(
            name, f"has {arr.shape[axis]} {what} but {other_name} has {other.shape[0]} entries"
        )


def loads_within(name: str, loads: Array, capacity: Array, capacity_name: str) -> Array:
    """Check ``loads <= capacity`` (with rounding slack); return the room ``capacity - loads``."""
    room = capacity - loads
    over = room < -LOAD_TOLERANCE * capacity
    if over.any():
        (j,) = _first(over)
        raise InvalidInputError(
            f"{name}[{j}]",
            f"load {loads[j]:g} exceeds {capacity_name}[{j}] = {capacity[j]:g}",
        )
    return np.maximum(room, 0.0)


def permutation(name: str, value: Sequence[int] | None, n: int) -> NDArray[np.intp]:
    """``value`` as a permutation of ``range(n)``; ``None`` means the natural order."""
    if value is None:
        return np.arange(n)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise InvalidInputError(name, "must be a list of buyer indices")
    if arr.size != n or not np.array_equal(np.sort(arr), np.arange(n)):
        raise InvalidInputError(name, f"must be a permutation of 0..{n - 1} (each buyer once)")
    return arr.astype(np.intp)


def as_tolerance(name: str, value: Any) -> float:
    """A tolerance: a finite number in (0, 1e9]."""
    tol = as_number(name, value)
    if tol <= 0.0:
        raise InvalidInputError(name, f"must be positive, got {tol:g}")
    return tol
