"""gridgame optimizer: exact best responses, equilibria and social optima of the market game.

The solvers need only numpy and scipy; the HTTP service is ``optimizer.app``
(``python -m optimizer``). Bad input raises ``InvalidInputError`` (a ``ValueError``) naming the
argument; non-convergence is ``success``/``status`` on the result.
"""

from optimizer.best_response import DEFAULT_TRANSMISSION_COST, best_response
from optimizer.equilibrium import EPSILON, MAX_ROUNDS, equilibrium, equilibrium_of
from optimizer.errors import InvalidInputError, OptimizerError
from optimizer.game import Game, buyer_costs, make_game, potential, total_cost, unit_prices
from optimizer.results import BestResponseResult, EquilibriumResult, SocialOptimumResult
from optimizer.social import minimum_total_cost, price_of_anarchy, social_optimum

__all__ = [
    "DEFAULT_TRANSMISSION_COST",
    "EPSILON",
    "MAX_ROUNDS",
    "BestResponseResult",
    "EquilibriumResult",
    "Game",
    "InvalidInputError",
    "OptimizerError",
    "SocialOptimumResult",
    "best_response",
    "buyer_costs",
    "equilibrium",
    "equilibrium_of",
    "make_game",
    "minimum_total_cost",
    "potential",
    "price_of_anarchy",
    "social_optimum",
    "total_cost",
    "unit_prices",
]
