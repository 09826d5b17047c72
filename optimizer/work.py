"""The service's bound on the work of one ``/equilibrium`` request. Sizes alone do not bound
it: two 1000 x 50 requests at 1000 rounds of best-response play held both cores for 108 s, a
200 x 2000 game took 30 s without any play. The library itself plays and solves whatever it is
given; the service calls ``check_work`` first.
"""

from __future__ import annotations

from optimizer.errors import InvalidInputError

ROUNDS_LIMIT = 10_000
"""Most rounds the service plays in one request (the schema's bound on ``max_rounds``)."""
TURN_COST = 500
"""A turn's fixed cost in sellers: ~50 us of Python and numpy calls before the ~0.1 us per
seller that sorting the breakpoints costs."""
PLAY_WORK_LIMIT = 50_000_000
"""Most ``play_work`` the service accepts in one request: about 5 s of one core."""
POTENTIAL_WORK_LIMIT = 100_000_000
"""Most ``potential_work`` the service accepts in one request: about 10 s of one core."""


def play_work(rounds: int, buyers: int, sellers: int) -> int:
    """What ``rounds`` of best-response play cost: rounds x buyers x (sellers + TURN_COST)."""
    return rounds * buyers * (sellers + TURN_COST)


def potential_work(buyers: int, sellers: int) -> int:
    """What one iteration of the potential's (and the social optimum's) solvers costs:
    (buyers + sellers) x sellers^2: B outer products summed into the S x S Newton matrix (the
    larger part) and its factorisation."""
    return (buyers + sellers) * sellers * sellers


def check_work(max_rounds: int | None, buyers: int, sellers: int) -> None:
    """Refuse a game (and ``max_rounds`` of play, when given) whose solution would cost more
    than PLAY_WORK_LIMIT / POTENTIAL_WORK_LIMIT: the service's bound on one request."""
    if potential_work(buyers, sellers) > POTENTIAL_WORK_LIMIT:
        raise InvalidInputError(
            "hop_distances",
            f"({buyers} buyers + {sellers} sellers) x {sellers} sellers^2 = "
            f"{potential_work(buyers, sellers):.3g} is more than the maximum "
            f"{POTENTIAL_WORK_LIMIT:g} (the solvers' work per iteration)",
        )
    if max_rounds is not None and play_work(max_rounds, buyers, sellers) > PLAY_WORK_LIMIT:
        most = PLAY_WORK_LIMIT // play_work(1, buyers, sellers)
        raise InvalidInputError(
            "max_rounds",
            f"is {max_rounds}, but {buyers} buyers x {sellers} sellers can play at most {most}"
            f" rounds (rounds x buyers x (sellers + {TURN_COST}) <= {PLAY_WORK_LIMIT:g})",
        )
