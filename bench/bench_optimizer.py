"""Optimizer benchmark: exact best response vs the SLSQP reference, the HTTP service under a
concurrent client, and equilibria (``python -m bench.bench_optimizer``; writes
bench/results/optimizer.json). It measures and reports; it asserts nothing."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import numpy as np

from bench.common import optimizer_service, print_table, write_results
from optimizer import best_response, equilibrium, make_game, minimum_total_cost
from optimizer.settings import Settings
from optimizer.work import (
    PLAY_WORK_LIMIT,
    POTENTIAL_WORK_LIMIT,
    ROUNDS_LIMIT,
    play_work,
    potential_work,
)

SELLERS = (4, 50, 200, 1000)
SLSQP_UP_TO = 200
GAMES = ((7, 4), (100, 20), (1000, 50))
HTTP_SELLERS, HTTP_CONCURRENCY, HTTP_REQUESTS = 50, 4, 2000


def _timed(fn: Callable[[], Any], budget: float = 0.5, at_least: int = 5) -> list[float]:
    """Seconds per call, each call timed on its own, for about ``budget`` seconds."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < at_least or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _buyer(sellers: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    capacity = rng.uniform(10, 100, sellers)
    used = capacity * rng.uniform(0, 0.5, sellers)
    return {
        "buyer_demand": float(0.5 * (capacity - used).sum()),
        "sellers_price": rng.uniform(0.05, 0.2, sellers).tolist(),
        "sellers_capacity": capacity.tolist(),
        "used_capacities": used.tolist(),
        "hop_distances": rng.integers(0, 6, sellers).astype(float).tolist(),
    }


def bench_best_response() -> list[dict[str, Any]]:
    rows = []
    for sellers in SELLERS:
        req = _buyer(sellers)
        args = list(req.values())
        exact = best_response(*args)
        t_exact = statistics.median(_timed(partial(best_response, *args)))
        row: dict[str, Any] = {"sellers": sellers, "exact_ms": t_exact * 1e3}
        if sellers <= SLSQP_UP_TO:
            ref = best_response(*args, method="slsqp")
            t_ref = statistics.median(_timed(partial(best_response, *args, method="slsqp"), 1.0, 3))
            row.update(
                slsqp_ms=t_ref * 1e3,
                speedup=t_ref / t_exact,
                slsqp_cost_minus_exact=ref.cost - exact.cost,
                slsqp_converged=ref.success,
            )
        rows.append(row)
    return rows


async def _load(url: str, body: dict[str, Any], total: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    queue = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as client:
        for _ in range(50):  # warm up
            (await client.post("/best-response", json=body)).raise_for_status()

        async def worker() -> None:
            for _ in queue:
                t0 = time.perf_counter()
                (await client.post("/best-response", json=body)).raise_for_status()
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": total,
        "throughput_rps": total / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
    }


def bench_http() -> list[dict[str, Any]]:
    with optimizer_service({"OPTIMIZER_LOG_LEVEL": "warning"}) as url:
        body = _buyer(HTTP_SELLERS)
        return [asyncio.run(_load(url, body, HTTP_REQUESTS, c)) for c in (1, HTTP_CONCURRENCY)]


def _game(buyers: int, sellers: int, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    capacity = rng.uniform(10, 100, sellers)
    demands = rng.uniform(1, 50, buyers)
    demands *= 0.6 * capacity.sum() / demands.sum()
    return {
        "demands": demands,
        "sellers_price": rng.uniform(0.05, 0.2, sellers),
        "sellers_capacity": capacity,
        "hop_distances": rng.integers(0, 6, (buyers, sellers)).astype(float),
    }


def bench_equilibrium() -> list[dict[str, Any]]:
    rows = []
    for buyers, sellers in GAMES:
        game = _game(buyers, sellers)
        pot = equilibrium(**game)
        t_pot = statistics.median(_timed(partial(equilibrium, **game), 1.0, 3))
        checked = make_game(**game)
        opt = minimum_total_cost(checked)
        t_opt = statistics.median(_timed(partial(minimum_total_cost, checked), 1.0, 3))
        rounds = 30 if buyers >= 1000 else 10_000
        t0 = time.perf_counter()
        play = equilibrium(**game, method="best-response", max_rounds=rounds, keep_history=False)
        t_play = time.perf_counter() - t0
        rows.append(
            {
                "game": f"{buyers} x {sellers}",
                "potential_ms": t_pot * 1e3,
                "potential_iterations": pot.nit,
                "potential_residual": pot.residual,
                "social_optimum_ms": t_opt * 1e3,
                "price_of_anarchy": pot.total_cost / opt.total_cost,
                "play_ms": t_play * 1e3,
                "play_rounds": play.rounds,
                "play_converged": play.success,
                "play_residual": play.residual,
                "play_vs_potential_kwh": float(np.abs(play.x - pot.x).max()),
            }
        )
    return rows


def _most_sellers(buyers: int, settings: Settings) -> int:
    """The most sellers ``check_work`` and the size limits let ``buyers`` buyers have."""
    lo, hi = 0, min(settings.max_sellers, settings.max_cells // buyers)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if potential_work(buyers, mid) <= POTENTIAL_WORK_LIMIT else (lo, mid - 1)
    return lo


def _body(buyers: int, sellers: int, rounds: int) -> str:
    body = {k: v.tolist() for k, v in _game(buyers, sellers).items()}
    body.update(method="best-response", max_rounds=rounds, epsilon=1e-300)
    return json.dumps(body)


def _worst_requests() -> list[tuple[str, int, int, int]]:
    """The heaviest /equilibrium requests the default limits accept, ``(what, B, S, rounds)``:
    the largest rounds x buyers x sellers, and the most buyers (with their most sellers and
    rounds) whose body still fits the service's body limit (the slowest found: play and a
    many-row social optimum)."""
    settings = Settings()

    def most_rounds(b: int, s: int) -> int:
        return min(ROUNDS_LIMIT, PLAY_WORK_LIMIT // play_work(1, b, s))

    def fits(b: int) -> bool:
        s = _most_sellers(b, settings)
        return len(_body(b, s, most_rounds(b, s))) <= settings.max_body_bytes

    shapes = [(b, _most_sellers(b, settings)) for b in range(1, settings.max_buyers + 1)]
    b, s = max(shapes, key=lambda bs: bs[0] * bs[1] * most_rounds(*bs))
    lo, hi = 1, settings.max_buyers  # the most buyers whose body fits (bisection)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    b2, s2 = lo, _most_sellers(lo, settings)
    return [
        ("largest rounds x buyers x sellers", b, s, most_rounds(b, s)),
        ("most buyers whose body fits, most sellers and rounds", b2, s2, most_rounds(b2, s2)),
    ]


def bench_worst_request() -> list[dict[str, Any]]:
    """Each worst request once over HTTP, best-response play that never converges (epsilon
    1e-300), alone on the service; refused means a limit elsewhere (body size) stops it."""
    rows = []
    with optimizer_service({"OPTIMIZER_LOG_LEVEL": "warning"}) as url:
        for what, buyers, sellers, rounds in _worst_requests():
            text = _body(buyers, sellers, rounds)
            t0 = time.perf_counter()
            response = httpx.post(
                f"{url}/equilibrium",
                content=text,
                headers={"content-type": "application/json"},
                timeout=600.0,
            )
            elapsed = time.perf_counter() - t0
            rows.append(
                {
                    "request": what,
                    "buyers": buyers,
                    "sellers": sellers,
                    "rounds": rounds,
                    "rounds_x_buyers_x_sellers": rounds * buyers * sellers,
                    "body_kib": len(text) / 1024,
                    "status": response.status_code,
                    "seconds": elapsed,
                }
            )
    return rows


def main() -> dict[str, Any]:
    br = bench_best_response()
    print("\nbest response (in-process, validation included; median per call)")
    print_table(
        ["sellers", "exact ms", "SLSQP ms", "speedup", "SLSQP cost - exact"],
        [
            [
                r["sellers"],
                r["exact_ms"],
                r.get("slsqp_ms", "-"),
                r.get("speedup", "-"),
                r.get("slsqp_cost_minus_exact", "-"),
            ]
            for r in br
        ],
    )
    http = bench_http()
    print(f"\nPOST /best-response, {HTTP_SELLERS} sellers, {HTTP_REQUESTS} requests")
    print_table(
        ["in flight", "req/s", "p50 ms", "p99 ms"],
        [[h["concurrency"], h["throughput_rps"], h["p50_ms"], h["p99_ms"]] for h in http],
    )
    eq = bench_equilibrium()
    print("\nequilibrium (potential minimiser), social optimum, best-response play")
    print_table(
        [
            "game",
            "potential ms",
            "iter",
            "social opt ms",
            "PoA",
            "play ms",
            "rounds",
            "play converged",
            "play - potential kWh",
        ],
        [
            [
                e["game"],
                e["potential_ms"],
                e["potential_iterations"],
                e["social_optimum_ms"],
                e["price_of_anarchy"],
                e["play_ms"],
                e["play_rounds"],
                str(e["play_converged"]),
                e["play_vs_potential_kwh"],
            ]
            for e in eq
        ],
    )
    at = {r["sellers"]: r for r in br}
    goals = {
        "exact_1000x_faster_than_slsqp_at_200": at[200]["speedup"] >= 1000,
        "exact_never_costlier_than_slsqp": all(
            r["slsqp_cost_minus_exact"] >= -1e-9 for r in br if "slsqp_ms" in r
        ),
        "exact_1000_sellers_under_1ms": at[1000]["exact_ms"] < 1.0,
        "http_p50_under_5ms": http[0]["p50_ms"] < 5.0,
        "equilibrium_1000x50_under_1s": eq[-1]["potential_ms"] < 1000.0,
    }
    worst = bench_worst_request()
    print("\nthe heaviest POST /equilibrium the default limits accept (best-response play)")
    print_table(
        ["request", "buyers", "sellers", "rounds", "R x B x S", "body KiB", "status", "s"],
        [
            [
                w["request"],
                w["buyers"],
                w["sellers"],
                w["rounds"],
                w["rounds_x_buyers_x_sellers"],
                w["body_kib"],
                w["status"],
                w["seconds"],
            ]
            for w in worst
        ],
    )
    print("\ngoals")
    print_table(["goal", "met"], [[k, str(v)] for k, v in goals.items()])
    data = {
        "best_response": br,
        "http": http,
        "equilibrium": eq,
        "worst_request": worst,
        "goals": goals,
        "cpus": os.cpu_count(),
    }
    write_results("optimizer", data)
    return data


if __name__ == "__main__":
    main()
