"""The endpoints: thin wrappers that check sizes against the settings, call the solvers and
shape the answer. Fast endpoints are ``async def`` (numpy work of a few hundred microseconds,
no thread hop); /equilibrium is ``def`` so that FastAPI runs it in its thread pool."""

from __future__ import annotations

import math
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from optimizer.best_response import best_response
from optimizer.equilibrium import equilibrium_of
from optimizer.errors import InvalidInputError
from optimizer.game import make_game
from optimizer.models import (
    BestResponseRequest,
    BestResponseResponse,
    EquilibriumRequest,
    EquilibriumResponse,
    Health,
    LegacyRequest,
    LegacyResponse,
)
from optimizer.settings import Settings
from optimizer.social import minimum_total_cost, ratio
from optimizer.work import check_work


async def get_settings(request: Request) -> Settings:
    """``async`` on purpose: FastAPI would run a plain ``def`` dependency in its thread pool."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
router = APIRouter()


def _at_most(field: str, count: int, limit: int, what: str) -> None:
    if count > limit:
        raise InvalidInputError(field, f"has {count} {what}, more than the maximum {limit}")


@router.get("/health", response_model=Health)
async def health() -> Health:
    return Health()


@router.post("/best-response", response_model=BestResponseResponse)
async def post_best_response(body: BestResponseRequest, settings: SettingsDep) -> dict[str, object]:
    """One buyer's cost-minimising split of its demand among the sellers."""
    _at_most("sellers_price", len(body.sellers_price), settings.max_sellers, "sellers")
    if body.method == "slsqp":
        _at_most(
            "sellers_price",
            len(body.sellers_price),
            settings.max_slsqp_sellers,
            "sellers (method 'slsqp' is a slow reference)",
        )
    solve = partial(
        best_response,
        body.buyer_demand,
        body.sellers_price,
        body.sellers_capacity,
        body.used_capacities,
        body.hop_distances,
        transmission_cost_per_hop=body.transmission_cost_per_hop,
        grid_price=body.grid_price,
        method=body.method,
    )
    # the exact solver takes well under a millisecond: run it on the event loop; SLSQP takes
    # seconds, so it goes to the thread pool and never blocks other requests
    res = await run_in_threadpool(solve) if body.method == "slsqp" else solve()
    return {
        "solution": res.x.tolist(),
        "grid": res.grid,
        "cost": res.cost,
        "method": res.method,
        "marginal_price": None if math.isnan(res.marginal_price) else res.marginal_price,
        "success": res.success,
        "message": res.message,
    }


@router.post("/equilibrium", response_model=EquilibriumResponse)
def post_equilibrium(body: EquilibriumRequest, settings: SettingsDep) -> dict[str, object]:
    """The game's equilibrium, its social optimum and the price of anarchy."""
    buyers, sellers = len(body.demands), len(body.sellers_price)
    _at_most("sellers_price", sellers, settings.max_sellers, "sellers")
    _at_most("demands", buyers, settings.max_buyers, "buyers")
    _at_most("hop_distances", buyers * sellers, settings.max_cells, "buyer x seller entries")
    check_work(body.max_rounds if body.method == "best-response" else None, buyers, sellers)
    game = make_game(
        body.demands,
        body.sellers_price,
        body.sellers_capacity,
        body.hop_distances,
        body.transmission_cost_per_hop,
        body.grid_price,
    )
    eq = equilibrium_of(
        game,
        body.method,
        order=body.order,
        epsilon=body.epsilon,
        max_rounds=body.max_rounds,
        keep_history=False,
    )
    optimum = minimum_total_cost(game)
    return {
        "allocation": eq.x.tolist(),
        "grid": eq.grid.tolist(),
        "costs": eq.costs.tolist(),
        "loads": eq.loads.tolist(),
        "unit_prices": eq.unit_prices.tolist(),
        "total_cost": eq.total_cost,
        "social_optimum_cost": optimum.total_cost,
        "price_of_anarchy": ratio(eq.total_cost, optimum.total_cost),
        "potential": eq.potential,
        "residual": eq.residual,
        "method": eq.method,
        "converged": eq.success and optimum.success,
        "message": eq.message + ("" if optimum.success else f"; social optimum {optimum.message}"),
        "rounds": eq.rounds if eq.method == "best-response" else None,
        "iterations": eq.nit,
    }


@router.post("/optimalEnergyDecomposition", response_model=LegacyResponse)
async def post_legacy(body: LegacyRequest, settings: SettingsDep) -> dict[str, object]:
    """The original system's endpoint, answered by the exact solver."""
    sellers = len(body.sellers_price)
    _at_most("sellers_price", sellers, settings.max_sellers, "sellers")
    if body.nr_sellers != sellers:
        raise InvalidInputError(
            "nr_sellers", f"is {body.nr_sellers} but sellers_price has {sellers} entries"
        )
    try:
        res = best_response(
            body.buyer_demand,
            body.sellers_price,
            body.sellers_capacity,
            body.used_capacities,
            body.hop_distrances,
        )
    except InvalidInputError as exc:  # name the field as this request spells it
        raise InvalidInputError(
            exc.field.replace("hop_distances", "hop_distrances"),
            exc.problem.replace("hop_distances", "hop_distrances"),
        ) from None
    return {"solution": [round(v, 4) for v in res.x.tolist()]}
