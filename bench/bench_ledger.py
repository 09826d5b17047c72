"""Gas of every game call and of whole games, and the wall time of the demo game played
in-process on Anvil (`python -m bench ledger`). Writes bench/results/ledger.json.

Games are played with two buyer strategies: `best-response` (every bid a best response, from
zero) and `equilibrium` (the first bid is the buyer's share of the equilibrium, computed from
the game's public data; best responses after that). Both end at the same unique equilibrium;
pure best responses need many rounds once many buyers share the sellers."""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import optimizer_response, print_table, write_results
from ledger_contracts import Anvil, account, connect, deploy
from ledger_contracts.testing import DEMO, Scenario, ScriptedMarket, advance_time, random_scenario
from optimizer import equilibrium

SETUP_CALLS = {"grantRole", "setHopDistances", "setGridPrices", "setTransmissionFee", "admit"}


def equilibrium_opening(driver: ScriptedMarket, game_id: int) -> dict[str, list[float]]:
    """Every buyer's share of the equilibrium, from the game's public data."""
    m = driver.market
    offers = m.functions.offers(game_id).call()
    buyers = [d[0] for d in m.functions.demands(game_id).call()]
    _, prices, _ = m.functions.game(game_id).call()
    result = equilibrium(
        [d[1] / 1000 for d in m.functions.demands(game_id).call()],
        [o[2] / 1e6 for o in offers],
        [o[1] / 1000 for o in offers],
        [m.functions.hopsToSellers(game_id, b).call() for b in buyers],
        transmission_cost_per_hop=prices[2] / 1e6,
        grid_price=prices[0] / 1e6,
    )
    return {b: list(row) for b, row in zip(buyers, result.x, strict=True)}


def play(
    w3: Any, deployment: Any, keys: list[Any], sc: Scenario, strategy: str = "best-response"
) -> dict[str, Any]:
    driver = ScriptedMarket(w3, deployment, keys[0], keys[1:])
    driver.setup(sc)
    driver.gas.clear()
    start = time.perf_counter()
    game_id = driver.register(sc)
    opening = equilibrium_opening(driver, game_id) if strategy == "equilibrium" else None
    run = driver.play(game_id, optimizer_response, opening=opening)
    total = time.perf_counter() - start
    gas = {k: v for k, v in driver.gas.items() if k not in SETUP_CALLS}
    return {
        "buyers": len(sc.buyers),
        "sellers": len(sc.sellers),
        "strategy": strategy,
        "rounds": run.rounds,
        "reason": run.reason,
        "turns": run.turns,
        "game_gas": sum(sum(v) for v in gas.values()),
        "calls": {
            k: {"count": len(v), "mean": statistics.mean(v), "max": max(v)} for k, v in gas.items()
        },
        "play_seconds": run.seconds,
        "game_seconds": total,
        "ms_per_turn": 1000 * run.seconds / max(run.turns, 1),
    }


def skip_gas(w3: Any, deployment: Any, keys: list[Any]) -> int:
    sc = random_scenario(2, 2, seed=7, turn_seconds=30)
    driver = ScriptedMarket(w3, deployment, keys[0], keys[1:])
    driver.setup(sc)
    game_id = driver.register(sc)
    advance_time(w3, sc.turn_seconds + 1)
    receipt = driver.send("skipTurn", keys[0], driver.market.functions.skipTurn(game_id))
    return int(receipt["gasUsed"])


def main() -> None:
    games: dict[str, dict[str, Any]] = {}
    with Anvil(accounts=80) as node:
        w3 = connect(node.url)
        keys = [account(k) for k in node.keys]
        for label, sc, strategy in (
            ("7x4", DEMO, "best-response"),
            ("7x4", DEMO, "equilibrium"),
            ("50x20", random_scenario(50, 20, seed=1), "best-response"),
            ("50x20", random_scenario(50, 20, seed=1), "equilibrium"),
            ("3x50", random_scenario(3, 50, seed=2), "best-response"),
        ):
            deployment = deploy(w3, keys[0])  # a fresh market per game: first-time storage
            games[f"{label} {strategy}"] = play(w3, deployment, keys, sc, strategy)
        skip = skip_gas(w3, deploy(w3, keys[0]), keys)

    demo = games["7x4 best-response"]["calls"]
    calls = {
        "openGame": demo["openGame"]["mean"],
        "publishOffer": demo["publishOffer"]["mean"],
        "publishDemand": demo["publishDemand"]["mean"],
        "closeRegistration (7 buyers)": demo["closeRegistration"]["mean"],
        "bid @ 4 sellers": demo["bid@4"]["mean"],
        "bid @ 20 sellers": games["50x20 best-response"]["calls"]["bid@20"]["mean"],
        "bid @ 50 sellers": games["3x50 best-response"]["calls"]["bid@50"]["mean"],
        "skipTurn": skip,
    }
    print_table(["call", "gas (mean)"], [[k, round(v)] for k, v in calls.items()])
    print()
    print_table(
        ["game", "rounds", "turns", "end", "game gas", "play s", "ms/turn"],
        [
            [
                k,
                g["rounds"],
                g["turns"],
                g["reason"],
                g["game_gas"],
                g["play_seconds"],
                g["ms_per_turn"],
            ]
            for k, g in games.items()
        ],
    )
    write_results("ledger", {"calls_gas": calls, "games": games})


if __name__ == "__main__":
    main()
