"""What a game did, read back from the chain, next to its equilibrium from the optimizer.

`game_report` returns plain data (it is what `--json` writes); `format_report` renders it.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
from web3 import Web3

from ledger_contracts import Deployment, EndReason, Event
from optimizer import make_game
from optimizer.equilibrium import residual

from .settlement import format_settlement

END_REASONS = {r.value: r.label for r in EndReason if r}


def game_report(
    w3: Web3,
    deployment: Deployment,
    game_id: int,
    events: list[Event],
    names: dict[str, str],
    optimizer_url: str,
    timings: dict[str, float],
    settlement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    market = deployment.contract(w3, "Market")
    _, prices, status = market.functions.game(game_id).call()
    g, f, t = prices[0] / 1e6, prices[1] / 1e6, prices[2] / 1e6
    offers = market.functions.offers(game_id).call()
    demands = market.functions.demands(game_id).call()  # turn order
    sellers = [o[0] for o in offers]
    buyers = [d[0] for d in demands]
    price = np.array([o[2] / 1e6 for o in offers])
    cap = np.array([o[1] / 1000 for o in offers])
    demand = np.array([d[1] / 1000 for d in demands])
    alloc = np.array(market.functions.allocation(game_id).call(), dtype=float) / 1000
    hops = np.array(
        [market.functions.hopsToSellers(game_id, b).call() for b in buyers], dtype=float
    )
    loads = alloc.sum(axis=0)
    unit = price * (1 + loads / cap)
    grid_import = np.maximum(demand - alloc.sum(axis=1), 0.0)
    costs = (alloc * (unit + t * hops)).sum(axis=1) + g * grid_import

    eq = httpx.post(
        f"{optimizer_url}/equilibrium",
        timeout=30.0,
        json={
            "demands": demand.tolist(),
            "sellers_price": price.tolist(),
            "sellers_capacity": cap.tolist(),
            "hop_distances": hops.tolist(),
            "transmission_cost_per_hop": t,
            "grid_price": g,
        },
    )
    eq.raise_for_status()
    equilibrium = eq.json()
    eq_alloc = np.array(equilibrium["allocation"])
    # The certificate of a Nash equilibrium: how far any buyer would still move on its own.
    still = residual(make_game(demand, price, cap, hops, t, g), alloc)
    turns = sum(1 for e in events if e.name in ("BidSubmitted", "BidStood", "TurnSkipped"))
    report = {
        "game": game_id,
        "end_reason": END_REASONS.get(int(status[1]), "none"),
        "rounds": int(status[4]),
        "turns": turns,
        "skipped_turns": sum(1 for e in events if e.name == "TurnSkipped"),
        "grid_price": g,
        "feed_in_price": f,
        "transmission_cost_per_hop": t,
        "sellers": [
            {
                "name": names.get(s, s),
                "address": s,
                "capacity_kwh": c,
                "price": p,
                "load_kwh": ld,
                "unit_price": u,
            }
            for s, c, p, ld, u in zip(sellers, cap, price, loads, unit, strict=True)
        ],
        "buyers": [
            {
                "name": names.get(b, b),
                "address": b,
                "demand_kwh": d,
                "cost": c,
                "equilibrium_cost": ec,
                "grid_import_kwh": gi,
            }
            for b, d, c, ec, gi in zip(
                buyers, demand, costs, equilibrium["costs"], grid_import, strict=True
            )
        ],
        "allocation_kwh": alloc.tolist(),
        "hop_distances": hops.tolist(),
        "equilibrium": {
            k: equilibrium[k]
            for k in (
                "allocation",
                "costs",
                "total_cost",
                "social_optimum_cost",
                "price_of_anarchy",
            )
        },
        "max_deviation_from_equilibrium_kwh": float(np.max(np.abs(alloc - eq_alloc))),
        "max_best_response_move_kwh": still,
        "full_sellers": [
            names.get(s, s) for s, ld, c in zip(sellers, loads, cap, strict=True) if ld >= c - 1e-3
        ],
        "total_cost": float(costs.sum()),
        "price_of_anarchy": float(costs.sum() / equilibrium["social_optimum_cost"]),
        "timings": timings,
        "convergence": convergence(events, buyers, len(sellers)),
    }
    if settlement is not None:
        report["settlement"] = settlement
    return report


def convergence(events: list[Event], buyers: list[str], sellers: int) -> list[list[list[float]]]:
    """Each buyer's bid (kWh per seller) at the end of every round, in turn order."""
    bids = {b: [0.0] * sellers for b in buyers}
    history: dict[int, list[list[float]]] = {}
    for e in events:
        if e.name == "BidSubmitted":
            bids[e.args["buyer"]] = [a / 1000 for a in e.args["amounts"]]
        if e.name in ("BidSubmitted", "BidStood", "TurnSkipped"):
            history[int(e.args["round"])] = [list(bids[b]) for b in buyers]
    return [history[r] for r in sorted(history)]


def format_report(r: dict[str, Any]) -> str:
    reason = str(r["end_reason"]).replace("_", " ")  # the label in prose
    # A time limit cuts a round short: the game ended in that round, at its delivery end.
    when = (
        f", delivery end reached in round {r['rounds']}"
        if r["end_reason"] == "time_limit"
        else f" after {r['rounds']} rounds"
    )
    lines = [f"Game {r['game']}: {reason}{when} ({r['turns']} turns, {r['skipped_turns']} skipped)"]
    head = "buyer   demand " + "".join(f"{s['name']:>9}" for s in r["sellers"]) + "     grid"
    lines += ["", "Allocation (kWh)", head]
    for b, row in zip(r["buyers"], r["allocation_kwh"], strict=True):
        cells = "".join(f"{x:9.3f}" for x in row)
        lines.append(f"{b['name']:<7} {b['demand_kwh']:6.1f} {cells} {b['grid_import_kwh']:8.3f}")
    lines.append(f"{'load':<14} " + "".join(f"{s['load_kwh']:9.3f}" for s in r["sellers"]))
    lines.append(f"{'capacity':<14} " + "".join(f"{s['capacity_kwh']:9.1f}" for s in r["sellers"]))
    lines.append(f"{'unit price':<14} " + "".join(f"{s['unit_price']:9.4f}" for s in r["sellers"]))
    lines += [
        "",
        "Cost per buyer (game vs equilibrium from /equilibrium)",
        "buyer        cost  equilibrium     diff",
    ]
    for b in r["buyers"]:
        lines.append(
            f"{b['name']:<7} {b['cost']:10.4f} {b['equilibrium_cost']:12.4f} "
            f"{b['cost'] - b['equilibrium_cost']:+8.4f}"
        )
    eq = r["equilibrium"]
    lines += [
        "",
        f"Total cost {r['total_cost']:.4f}; equilibrium {eq['total_cost']:.4f}; "
        f"social optimum {eq['social_optimum_cost']:.4f}; price of anarchy "
        f"{r['price_of_anarchy']:.4f}",
        f"Largest deviation from the potential's minimiser: "
        f"{r['max_deviation_from_equilibrium_kwh'] * 1000:.1f} Wh; largest move any buyer "
        f"would still make (0 at a Nash equilibrium): "
        f"{r['max_best_response_move_kwh'] * 1000:.1f} Wh",
    ]
    if r["full_sellers"]:
        lines.append(
            f"Sellers at capacity: {', '.join(r['full_sellers'])}. With full sellers "
            "the capacity limits are shared, and turn-by-turn play can stop at another "
            "(generalised) equilibrium than the potential's minimiser: whoever reached "
            "a full seller first keeps it."
        )
    tm = r["timings"]
    lines.append(
        f"Timings: bidding {tm.get('bidding_seconds', 0):.2f} s, "
        f"{tm.get('ms_per_turn', 0):.1f} ms per turn, "
        f"game {tm.get('game_seconds', 0):.2f} s"
    )
    if r.get("settlement"):
        lines += ["", format_settlement(r["settlement"])]
    return "\n".join(lines)
