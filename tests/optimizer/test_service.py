"""The HTTP service over a real server (``python -m optimizer`` on a free port)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from optimizer import best_response, equilibrium
from optimizer.app import create_app
from optimizer.settings import Settings

BR: dict[str, Any] = {
    "buyer_demand": 34.0,
    "sellers_price": [0.14, 0.0838, 0.0784, 0.0666],
    "sellers_capacity": [350.0, 36.0, 29.0, 49.0],
    "used_capacities": [10.0, 5.0, 0.0, 20.0],
    "hop_distances": [1, 2, 3, 4],
}


def test_health_and_docs(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok", "service": "optimizer"}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/best-response", "/equilibrium", "/optimalEnergyDecomposition"} <= set(
        paths
    )


def test_best_response(client: httpx.Client) -> None:
    body = client.post("/best-response", json=BR).json()
    ref = best_response(*(BR[k] for k in list(BR)))
    np.testing.assert_allclose(body["solution"], ref.x, rtol=1e-12)
    assert body["grid"] == 0.0 and body["cost"] == pytest.approx(ref.cost)
    assert body["method"] == "exact" and body["success"] is True
    assert body["marginal_price"] == pytest.approx(ref.marginal_price)


def test_best_response_with_grid_and_slsqp(client: httpx.Client) -> None:
    req = {**BR, "buyer_demand": 500.0, "grid_price": 0.3, "transmission_cost_per_hop": 0.0}
    exact = client.post("/best-response", json=req).json()
    ref = client.post("/best-response", json={**req, "method": "slsqp"}).json()
    assert exact["grid"] > 0 and ref["method"] == "slsqp" and ref["marginal_price"] is None
    assert exact["cost"] <= ref["cost"] + 1e-9


def test_equilibrium(client: httpx.Client, demo: dict[str, list]) -> None:
    body = client.post("/equilibrium", json=demo).json()
    ref = equilibrium(
        demo["demands"], demo["sellers_price"], demo["sellers_capacity"], demo["hop_distances"]
    )
    np.testing.assert_allclose(body["allocation"], ref.x, atol=1e-9)
    assert np.shape(body["allocation"]) == (7, 4) and len(body["grid"]) == 7
    assert len(body["costs"]) == 7 and len(body["unit_prices"]) == 4
    assert body["total_cost"] == pytest.approx(sum(body["costs"]))
    assert body["price_of_anarchy"] == pytest.approx(
        body["total_cost"] / body["social_optimum_cost"]
    )
    assert body["price_of_anarchy"] >= 1.0 and body["converged"] is True
    assert body["method"] == "potential" and body["rounds"] is None and body["iterations"] > 0

    play = client.post(
        "/equilibrium",
        json={
            **demo,
            "method": "best-response",
            "order": [6, 5, 4, 3, 2, 1, 0],
            "epsilon": 1e-9,
            "max_rounds": 500,
        },
    ).json()
    assert play["method"] == "best-response" and play["rounds"] == play["iterations"] > 1
    assert play["converged"] is True and play["residual"] < 1e-6


def test_equilibrium_with_grid_imports(client: httpx.Client) -> None:
    body = client.post(
        "/equilibrium",
        json={
            "demands": [30.0, 30.0],
            "sellers_price": [0.1, 0.2],
            "sellers_capacity": [10.0, 10.0],
            "hop_distances": [[0, 1], [1, 0]],
            "grid_price": 0.3,
        },
    ).json()
    assert sum(body["grid"]) > 0


def test_original_endpoint(client: httpx.Client) -> None:
    legacy = {
        "nr_sellers": 4,
        **{k: v for k, v in BR.items() if k != "hop_distances"},
        "hop_distrances": BR["hop_distances"],
    }
    body = client.post("/optimalEnergyDecomposition", json=legacy).json()
    ref = best_response(*(BR[k] for k in list(BR)))
    assert body == {"solution": [round(v, 4) for v in ref.x.tolist()]}


def test_slsqp_that_cannot_buy_answers_a_failed_result(client: httpx.Client) -> None:
    # every seller under 1e-3 kWh free: the reference fixes them all at zero (it was a 500)
    req = {**BR, "buyer_demand": 0.001, "used_capacities": [349.9995, 35.9995, 28.9995, 48.9995]}
    response = client.post("/best-response", json={**req, "method": "slsqp"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is False and "fixed by bounds" in body["message"]
    exact = client.post("/best-response", json=req).json()
    assert exact["success"] is True and sum(exact["solution"]) == pytest.approx(0.001, rel=1e-12)


@pytest.mark.parametrize(
    ("req", "solution"),
    [
        # lambda's rounding step times C / 2p is 14 kWh: it answered 55.5
        (
            {
                "buyer_demand": 50.0,
                "sellers_price": [1e-9],
                "sellers_capacity": [1e9],
                "used_capacities": [0],
                "hop_distances": [10],
            },
            [50.0],
        ),
        # it answered 1e9 kWh for a demand of 1e-9
        (
            {
                "buyer_demand": 1e-9,
                "sellers_price": [1e-3, 1e9],
                "sellers_capacity": [1e9, 1e-9],
                "used_capacities": [0, 0],
                "hop_distances": [1, 0],
                "transmission_cost_per_hop": 1e9,
            },
            [1e-9, 0.0],
        ),
    ],
)
def test_best_response_at_extreme_scales_meets_the_demand(
    client: httpx.Client, req: dict[str, Any], solution: list[float]
) -> None:
    body = client.post("/best-response", json=req).json()
    assert body["success"] is True
    np.testing.assert_allclose(body["solution"], solution, rtol=1e-12, atol=1e-21)


# a buyer of 1e-3 kWh next to 1e7 kWh sellers: the potential's tolerance (relative to the
# largest capacity) let it go without anything and said converged
TINY_BUYERS: dict[str, Any] = {
    "demands": [9.912442350430818e-05, 0.0010598765532934104, 1.0],
    "sellers_price": [1.5469808621493677e-08, 1392230.1450550149, 1.5864272378974766e-08, 1.0],
    "sellers_capacity": [1.0, 9685672.313377185, 1.1631874599450265e-05, 1.7457606697116122e-07],
    "hop_distances": [
        [0.5888368654108507, 0.0, 0.0004686225644516683, 151544.57370960602],
        [14.34285839849501, 0.0, 5.721272493944644e-05, 0.0],
        [2.967619621238147, 1.0, 1.1348652603512178e-09, 0.0003441256713891156],
    ],
    "transmission_cost_per_hop": 4.604252657991899e-10,
}
# a 1e-9 kWh seller and the grid: the social optimum put 1e8 kWh on the seller
TINY_SELLER: dict[str, Any] = {
    "demands": [108937667.99764068, 53391.03253863553],
    "sellers_price": [1e9],
    "sellers_capacity": [1e-9],
    "hop_distances": [[0.0], [0.0]],
    "transmission_cost_per_hop": 1e9,
    "grid_price": 0.1314316472753101,
}


@pytest.mark.parametrize("game", [TINY_BUYERS, TINY_SELLER], ids=["tiny-buyers", "tiny-seller"])
def test_equilibrium_at_extreme_scales_is_feasible(
    client: httpx.Client, game: dict[str, Any]
) -> None:
    body = client.post("/equilibrium", json=game).json()
    x, demands = np.array(body["allocation"]), np.array(game["demands"])
    assert np.all(x >= 0) and np.all(np.array(body["grid"]) >= 0)
    assert np.all(np.array(body["loads"]) <= np.array(game["sellers_capacity"]))
    np.testing.assert_allclose(x.sum(axis=1) + body["grid"], demands, rtol=1e-9, atol=0)
    # neither game leaves a choice worth a millionth of the cost: equilibrium = optimum
    # (the social optimum of the second one cost 2.7e34 with 1e8 kWh on the 1e-9 kWh seller)
    assert body["social_optimum_cost"] == pytest.approx(body["total_cost"], rel=1e-6)


def test_equilibrium_work_is_bounded(client: httpx.Client) -> None:
    """rounds x buyers x (sellers + 500) <= 5e7: 30 buyers x 10 sellers may play 3267 rounds.
    Two 1000 x 50 requests at 1000 rounds used to hold both cores for 108 s."""
    game = {
        "demands": [1.0] * 30,
        "sellers_price": [0.1 + 0.01 * j for j in range(10)],
        "sellers_capacity": [10.0] * 10,
        "hop_distances": [[(i + j) % 4 for j in range(10)] for i in range(30)],
        "method": "best-response",
    }
    refused = client.post("/equilibrium", json={**game, "max_rounds": 3268})
    assert refused.status_code == 422, refused.text
    message = refused.json()["message"]
    assert message.startswith("max_rounds: is 3268") and "at most 3267 rounds" in message
    accepted = client.post("/equilibrium", json={**game, "max_rounds": 3267})
    assert accepted.status_code == 200 and accepted.json()["converged"] is True
    # the potential method ignores max_rounds: it plays no rounds
    assert (
        client.post(
            "/equilibrium", json={**game, "max_rounds": 10_000, "method": "potential"}
        ).status_code
        == 200
    )


def _raw(client: httpx.Client, path: str, text: str) -> httpx.Response:
    return client.post(path, content=text, headers={"content-type": "application/json"})


def _with(base: dict[str, Any], **change: Any) -> str:
    return json.dumps({**base, **change})


GAME = {
    "demands": [5.0, 6.0],
    "sellers_price": [0.1, 0.2],
    "sellers_capacity": [10.0, 10.0],
    "hop_distances": [[0, 1], [1, 0]],
}
LEGACY = {
    "nr_sellers": 2,
    "buyer_demand": 3.0,
    "sellers_price": [0.1, 0.2],
    "sellers_capacity": [10.0, 10.0],
    "used_capacities": [0, 0],
    "hop_distrances": [1, 2],
}


@pytest.mark.parametrize(
    ("path", "text", "names"),
    [
        ("/best-response", _with(BR).replace("0.0838", "NaN"), "sellers_price[1]"),
        ("/best-response", _with(BR).replace("350.0", "Infinity"), "sellers_capacity[0]"),
        ("/best-response", _with(BR).replace("34.0", "-Infinity"), "buyer_demand"),
        ("/best-response", _with(BR).replace("34.0", "1e400"), "buyer_demand"),
        ("/best-response", _with(BR).replace("34.0", "1" + "0" * 5000), "body"),
        ("/best-response", _with(BR, buyer_demand=-1), "buyer_demand"),
        ("/best-response", _with(BR, buyer_demand="lots"), "buyer_demand"),
        ("/best-response", _with(BR, buyer_demand=1000.0), "buyer_demand"),
        ("/best-response", _with(BR, sellers_price=[0.1, 0, 0.1, 0.1]), "sellers_price[1]"),
        ("/best-response", _with(BR, sellers_capacity=[0, 1, 1, 1]), "sellers_capacity[0]"),
        ("/best-response", _with(BR, sellers_capacity=[1, 1, 1]), "sellers_capacity"),
        ("/best-response", _with(BR, used_capacities=[0, 0, 0]), "used_capacities"),
        ("/best-response", _with(BR, used_capacities=[0, 37, 0, 0]), "used_capacities[1]"),
        ("/best-response", _with(BR, hop_distances=[1, 2, 3, -4]), "hop_distances[3]"),
        ("/best-response", _with(BR, grid_price=0), "grid_price"),
        ("/best-response", _with(BR, sellers_price=[0.1, 1e-10, 0.1, 0.1]), "sellers_price[1]"),
        ("/equilibrium", _with(GAME, max_rounds=10_001), "max_rounds"),
        ("/best-response", _with(BR, method="newton"), "method"),
        ("/best-response", _with(BR, hop_distrances=[1, 2, 3, 4]), "hop_distrances"),
        (
            "/best-response",
            json.dumps({k: v for k, v in BR.items() if k != "buyer_demand"}),
            "buyer_demand",
        ),
        (
            "/best-response",
            _with(
                BR,
                sellers_price=[0.1] * 41,
                sellers_capacity=[1.0] * 41,
                used_capacities=[0] * 41,
                hop_distances=[0] * 41,
            ),
            "sellers_price",
        ),
        (
            "/best-response",
            _with(
                BR,
                sellers_price=[0.1] * 11,
                sellers_capacity=[9.0] * 11,
                used_capacities=[0] * 11,
                hop_distances=[0] * 11,
                method="slsqp",
            ),
            "sellers_price",
        ),
        ("/best-response", "{not json", "body"),
        ("/best-response", "[1, 2, 3]", "body"),
        ("/best-response", "", "body"),
        ("/equilibrium", _with(GAME, demands=[20.0, 20.0]), "demands"),
        ("/equilibrium", _with(GAME, hop_distances=[[0, 1]]), "hop_distances"),
        ("/equilibrium", _with(GAME, hop_distances=[[0, 1], [1]]), "hop_distances[1]"),
        ("/equilibrium", _with(GAME, order=[0, 0], method="best-response"), "order"),
        ("/equilibrium", _with(GAME, epsilon=0), "epsilon"),
        ("/equilibrium", _with(GAME, max_rounds=0), "max_rounds"),
        ("/equilibrium", _with(GAME, demands=[1.0] * 31, hop_distances=[[0, 0]] * 31), "demands"),
        (
            "/equilibrium",
            _with(
                GAME,
                demands=[1.0] * 11,
                hop_distances=[[0] * 40] * 11,
                sellers_price=[0.1] * 40,
                sellers_capacity=[1.0] * 40,
            ),
            "hop_distances",
        ),
        ("/optimalEnergyDecomposition", _with(LEGACY, nr_sellers=3), "nr_sellers"),
        ("/optimalEnergyDecomposition", _with(LEGACY, hop_distrances=[1]), "hop_distrances"),
        ("/optimalEnergyDecomposition", _with(LEGACY, buyer_demand=25.0), "buyer_demand"),
    ],
)
def test_invalid_requests_are_422_naming_the_field(
    client: httpx.Client, path: str, text: str, names: str
) -> None:
    response = _raw(client, path, text)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith(names) or f"{names}:" in body["message"], body
    assert body["detail"] and all({"loc", "msg", "type"} <= set(e) for e in body["detail"])


def test_logs_are_json_lines_on_stderr(
    optimizer_server: tuple[str, Path], client: httpx.Client
) -> None:
    client.post("/best-response", json={**BR, "buyer_demand": -1})
    lines = [json.loads(line) for line in optimizer_server[1].read_text().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    assert any(e["message"] == "starting" and e["port"] for e in lines)
    assert any(e["message"] == "invalid request" and "buyer_demand" in e["error"] for e in lines)


def test_unexpected_errors_are_a_bare_500() -> None:
    app = create_app(Settings())

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as ac:
            return await ac.get("/boom")

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json() == {"message": "internal error", "detail": []}
