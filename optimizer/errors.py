"""The optimizer's exceptions.

    OptimizerError                 base of everything the package raises on purpose
    └── InvalidInputError          bad input; also a ``ValueError``, carries the field's name

Non-convergence is never an exception: it is ``status``/``success`` on the result object.
"""

from __future__ import annotations


class OptimizerError(Exception):
    """Base class of the optimizer's exceptions."""


class InvalidInputError(OptimizerError, ValueError):
    """An argument (or request field) is invalid; ``field`` names it, e.g. ``sellers_price[3]``."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
