"""The whole market end to end, one OS process per prosumer (`python -m bench e2e`): game time
(opened to closed, settlement included) and time per turn for 7 x 4, 50 x 10 and 200 x 20.
Process start-up is reported apart: it is Python importing web3 N times, not the market.
Writes bench/results/e2e.json. Goals: under 50 ms per turn at 7 x 4; 200 x 20 converged and
settled in under 2 minutes."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import print_table, write_results
from demo.run import DemoOptions, run_demo
from ledger_contracts.testing import DEMO, random_scenario

# Bidding ends at the delivery end: at x20, the 800 turns of 200 x 20 take over 900 chain s.
CASES = [
    ("7x4", DEMO, "best-response"),
    ("7x4", DEMO, "equilibrium"),
    (
        "50x10",
        random_scenario(
            50,
            10,
            seed=1,
            round_limit=60,
            turn_seconds=600,
            registration_seconds=300,
            delivery_seconds=3600,
        ),
        "equilibrium",
    ),
    (
        "200x20",
        random_scenario(
            200,
            20,
            seed=1,
            round_limit=60,
            turn_seconds=600,
            registration_seconds=400,
            delivery_seconds=7200,
        ),
        "equilibrium",
    ),
]


def run_case(label: str, sc: Any, strategy: str, keep: Path | None = None) -> dict[str, Any]:
    """One game end to end; with `keep`, its work directory (keys, queue db, every process's
    log in logs/) is kept in `keep/<label>-<strategy>`."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gridgame-bench-") as tmp:
        workdir = keep / f"{label}-{strategy}" if keep is not None else Path(tmp)
        result = run_demo(
            DemoOptions(
                scenario=sc,
                workdir=workdir,
                strategy=strategy,
                speed=20,
                timeout=1200,
                chart_path=None,
                quiet=True,
            )
        )
    (game,) = result["games"]
    tm = game["timings"]
    settlement = game.get("settlement") or {}
    traded = sum(sum(row) for row in game["allocation_kwh"])
    delivered = sum(p.get("delivered_kwh", 0.0) for p in settlement.get("prosumers", {}).values())
    return {
        "game": label,
        "strategy": strategy,
        "rounds": game["rounds"],
        "turns": game["turns"],
        "end": game["end_reason"],
        "closed": bool(settlement.get("closed")),
        # every traded kWh paid as delivered (the meter reads full delivery)
        "traded_kwh": traded,
        "delivered_kwh": delivered,
        "all_delivered": traded > 0
        and abs(delivered - traded) <= 0.001 * len(game["buyers"]) * len(game["sellers"]),
        "ms_per_turn": tm["ms_per_turn"],
        "bidding_s": tm["bidding_seconds"],
        "game_s": tm["game_seconds"],
        "whole_run_s": time.perf_counter() - start,
        "price_of_anarchy": game["price_of_anarchy"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_e2e", description=__doc__)
    labels = sorted({c[0] for c in CASES})
    parser.add_argument(
        "games",
        nargs="*",
        metavar="GAME",
        help=f"the games to run, of {', '.join(labels)} (default: all)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each game's work directory (and its processes' logs) under this directory",
    )
    args = parser.parse_args(argv or [])
    wanted = set(args.games)
    if wanted - set(labels):
        parser.error(
            f"unknown game(s) {', '.join(sorted(wanted - set(labels)))} "
            f"(known: {', '.join(labels)})"
        )
    rows = [run_case(*case, keep=args.keep) for case in CASES if not wanted or case[0] in wanted]
    print_table(
        [
            "game",
            "strategy",
            "rounds",
            "turns",
            "end",
            "closed",
            "delivered kWh",
            "ms/turn",
            "bidding s",
            "game s",
            "run s (with start-up)",
        ],
        [
            [
                r["game"],
                r["strategy"],
                r["rounds"],
                r["turns"],
                r["end"],
                r["closed"],
                f"{r['delivered_kwh']:.1f}/{r['traded_kwh']:.1f}",
                r["ms_per_turn"],
                r["bidding_s"],
                r["game_s"],
                r["whole_run_s"],
            ]
            for r in rows
        ],
    )
    write_results("e2e", {"games": rows})


if __name__ == "__main__":
    main(sys.argv[1:])
