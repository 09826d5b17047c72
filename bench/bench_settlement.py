"""Gas of settlement on Anvil (`python -m bench settlement`): fixing the trades once bidding
ended, a meter reading, and the close, for the 7 x 4 demo game and a 50 x 20 game, each played
to its end in-process first. Readings are posted in both orders (sellers first, buyers first):
a reading only records, so both cost the same; the close pays the trades. Gas is per
transaction, as mined (21,000 and calldata included). Writes bench/results/settlement.json.
The games at the Market's limits are measured by Forge (`test/Settlement/Gas.t.sol`)."""

from __future__ import annotations

import statistics
from typing import Any

from bench.common import optimizer_response, print_table, write_results
from ledger_contracts import Anvil, account, connect, deploy
from ledger_contracts.testing import DEMO, OPERATOR_FLOAT, Scenario, ScriptedMarket, random_scenario

FIX_CHUNK = 100  # items per fixTrades call (a seller, or a buyer's trades with 128 sellers)
CLOSE_CHUNK = 200  # items per closeGame call


def _stats(values: list[int]) -> dict[str, Any]:
    return {
        "count": len(values),
        "total": sum(values),
        "mean": statistics.mean(values),
        "max": max(values),
    }


def settle(w3: Any, keys: list[Any], sc: Scenario) -> dict[str, Any]:
    deployment = deploy(w3, keys[0])
    driver = ScriptedMarket(w3, deployment, keys[0], keys[1:])
    driver.setup(sc)
    game_id = driver.register(sc)
    run = driver.play(game_id, optimizer_response)
    driver.fund(driver.operator, OPERATOR_FLOAT)
    trades = sum(1 for row in run.allocation_wh for wh in row if wh)
    out: dict[str, Any] = {
        "buyers": len(sc.buyers),
        "sellers": len(sc.sellers),
        "trades": trades,
        "rounds": run.rounds,
        "reason": run.reason,
        "escrow_publishDemand": _stats(driver.gas["publishDemand"]),
    }
    for order, sellers_first in (("sellers_first", True), ("buyers_first", False)):
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        driver.gas.clear()
        driver.settle(
            game_id, sellers_first=sellers_first, fix_chunk=FIX_CHUNK, close_chunk=CLOSE_CHUNK
        )
        out[order] = {k: _stats(driver.gas[k]) for k in ("fixTrades", "postReading", "closeGame")}
        w3.provider.make_request("evm_revert", [snapshot])
    return out


def main() -> None:
    games: dict[str, dict[str, Any]] = {}
    with Anvil(accounts=80) as node:
        w3 = connect(node.url)
        keys = [account(k) for k in node.keys]
        for label, sc in (("7x4", DEMO), ("50x20", random_scenario(50, 20, seed=1))):
            games[label] = settle(w3, keys, sc)

    rows = []
    for label, g in games.items():
        s, b = g["sellers_first"], g["buyers_first"]
        rows.append(
            [
                label,
                g["trades"],
                s["fixTrades"]["count"],
                s["fixTrades"]["total"],
                s["postReading"]["mean"],
                s["postReading"]["max"],
                b["postReading"]["mean"],
                b["postReading"]["max"],
                s["closeGame"]["count"],
                s["closeGame"]["total"],
                g["escrow_publishDemand"]["mean"],
            ]
        )
    print_table(
        [
            "game",
            "trades",
            "fix calls",
            "fixTrades gas",
            "reading mean (S first)",
            "reading max (S first)",
            "reading mean (B first)",
            "reading max (B first)",
            "close calls",
            "closeGame gas",
            "publishDemand+escrow",
        ],
        rows,
    )
    write_results(
        "settlement", {"fix_chunk": FIX_CHUNK, "close_chunk": CLOSE_CHUNK, "games": games}
    )


if __name__ == "__main__":
    main()
