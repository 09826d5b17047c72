"""The buyer's best response, asked of the optimizer service (`POST /best-response`) over one
kept-alive HTTP connection.

    with OptimizerClient("http://127.0.0.1:8081") as opt:
        answer = opt.best_response(query)     # answer.solution: kWh per seller
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

import httpx

from .errors import OptimizerRefused, OptimizerUnavailable

DEFAULT_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True)
class BestResponseQuery:
    """The optimizer's request, in kWh and currency per kWh (field names are the API's)."""

    buyer_demand: float
    sellers_price: tuple[float, ...]
    sellers_capacity: tuple[float, ...]
    used_capacities: tuple[float, ...]  # the other buyers' load on each seller
    hop_distances: tuple[float, ...]
    transmission_cost_per_hop: float
    grid_price: float | None

    def body(self, method: str = "exact") -> dict[str, Any]:
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if out["grid_price"] is None:
            del out["grid_price"]
        out["method"] = method
        return out


@dataclass(frozen=True)
class BestResponse:
    solution: tuple[float, ...]  # kWh from each seller
    grid: float  # kWh from the grid
    cost: float
    method: str


class OptimizerClient:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        method: str = "exact",
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.05,
    ) -> None:
        self.url = url.rstrip("/")
        self.method = method
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=2.0))

    def best_response(self, query: BestResponseQuery) -> BestResponse:
        response = self._post("/best-response", query.body(self.method))
        if response.status_code != 200:
            raise OptimizerRefused(response.status_code, _detail(response))
        body = response.json()
        return BestResponse(
            tuple(float(v) for v in body["solution"]),
            float(body["grid"]),
            float(body["cost"]),
            str(body["method"]),
        )

    def equilibrium(
        self,
        demands: Sequence[float],
        prices: Sequence[float],
        capacities: Sequence[float],
        hops: Sequence[Sequence[float]],
        transmission_cost_per_hop: float,
        grid_price: float | None,
    ) -> list[list[float]]:
        """The game's equilibrium allocation (kWh, one row per buyer) from its public data
        (`POST /equilibrium`, the potential's minimiser)."""
        body: dict[str, Any] = {
            "demands": list(demands),
            "sellers_price": list(prices),
            "sellers_capacity": list(capacities),
            "hop_distances": [list(row) for row in hops],
            "transmission_cost_per_hop": transmission_cost_per_hop,
        }
        if grid_price is not None:
            body["grid_price"] = grid_price
        response = self._post("/equilibrium", body)
        if response.status_code != 200:
            raise OptimizerRefused(response.status_code, _detail(response))
        return [[float(v) for v in row] for row in response.json()["allocation"]]

    def health(self) -> bool:
        try:
            return self._http.get(self.url + "/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        last: Exception | str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._http.post(self.url + path, json=body)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code not in (502, 503, 504):
                return response
            last = f"HTTP {response.status_code}"
        raise OptimizerUnavailable(
            f"optimizer at {self.url} did not answer after {self.retries + 1} attempts: {last}"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OptimizerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("message") or body.get("detail"))
    except ValueError:
        return response.text[:300]
