"""Request and response bodies. Field limits here are documentation and a first check; the
solvers check everything again (lengths, loads against capacity, demand against supply)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

import gridgame
from optimizer.best_response import DEFAULT_TRANSMISSION_COST
from optimizer.equilibrium import EPSILON, MAX_ROUNDS
from optimizer.validation import LIMIT, MIN_POSITIVE
from optimizer.work import PLAY_WORK_LIMIT, ROUNDS_LIMIT, TURN_COST

Amount = Annotated[float, Field(ge=0, le=LIMIT, allow_inf_nan=False)]
Positive = Annotated[float, Field(ge=MIN_POSITIVE, le=LIMIT, allow_inf_nan=False)]
Amounts = Annotated[list[Amount], Field(min_length=1)]
Positives = Annotated[list[Positive], Field(min_length=1)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BestResponseRequest(_Request):
    buyer_demand: Amount = Field(description="kWh the buyer needs")
    sellers_price: Positives = Field(description="base price of each seller, per kWh")
    sellers_capacity: Positives = Field(description="kWh each seller offers")
    used_capacities: Amounts = Field(description="kWh the other buyers take from each seller")
    hop_distances: Amounts = Field(description="hops from the buyer to each seller")
    transmission_cost_per_hop: Amount = DEFAULT_TRANSMISSION_COST
    grid_price: Positive | None = Field(
        default=None, description="grid retail price; the grid then supplies what costs more"
    )
    method: Literal["exact", "slsqp"] = "exact"


class BestResponseResponse(BaseModel):
    solution: list[float] = Field(description="kWh bought from each seller")
    grid: float = Field(description="kWh imported from the grid")
    cost: float = Field(description="the buyer's cost, grid import included")
    method: str
    marginal_price: float | None = Field(description="the buyer's marginal cost (lambda)")
    success: bool
    message: str


class EquilibriumRequest(_Request):
    demands: Amounts = Field(description="kWh each buyer needs")
    sellers_price: Positives
    sellers_capacity: Positives
    hop_distances: Annotated[list[Amounts], Field(min_length=1)] = Field(
        description="B x S: hops from each buyer to each seller"
    )
    transmission_cost_per_hop: Amount = DEFAULT_TRANSMISSION_COST
    grid_price: Positive | None = None
    method: Literal["potential", "best-response"] = "potential"
    order: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="turn order of the buyers (best-response)"
    )
    epsilon: Annotated[float, Field(gt=0, le=LIMIT, allow_inf_nan=False)] = EPSILON
    max_rounds: Annotated[int, Field(ge=1, le=ROUNDS_LIMIT)] = Field(
        default=MAX_ROUNDS,
        description="round limit (best-response): rounds x buyers x (sellers + "
        f"{TURN_COST}) <= {PLAY_WORK_LIMIT:g}",
    )


class EquilibriumResponse(BaseModel):
    allocation: list[list[float]] = Field(description="B x S kWh")
    grid: list[float] = Field(description="kWh each buyer imports from the grid")
    costs: list[float] = Field(description="each buyer's cost")
    loads: list[float]
    unit_prices: list[float] = Field(description="p (1 + L / C) of each seller")
    total_cost: float
    social_optimum_cost: float
    price_of_anarchy: float
    potential: float
    residual: float = Field(description="most any buyer would still move (kWh)")
    method: str
    converged: bool
    message: str
    rounds: int | None = Field(description="full rounds played (best-response)")
    iterations: int


class LegacyRequest(BaseModel):
    """The original system's request (``hop_distrances`` is its spelling)."""

    model_config = ConfigDict(allow_inf_nan=False)

    nr_sellers: Annotated[int, Field(ge=1)]
    buyer_demand: Amount
    sellers_price: Positives
    sellers_capacity: Positives
    used_capacities: Amounts
    hop_distrances: Amounts


class LegacyResponse(BaseModel):
    solution: list[float] = Field(description="kWh from each seller, rounded to 4 decimals")


class Health(gridgame.Health):
    status: Literal["ok"] = "ok"
    service: Literal["optimizer"] = "optimizer"
