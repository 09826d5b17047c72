"""The whole market end to end, one OS process per prosumer (`python -m bench e2e`): game time
(opened to closed, settlement included) and time per turn for 7 x 4, 50 x 10 and 200 x 20.
Process start-up is reported apart: it is Python importing web3 N times, not the market.
Writes bench/results/e2e.json. Goals: under 50 ms per turn at 7 x 4; 200 x 20 converged and
settled in under 2 minutes."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import print_table, write_results
from demo.run import DemoOptions, run_demo
from ledger_contracts.scenario import DEMO, random_scenario

CASES = [
    ("7x4", DEMO, "best-response"),
    ("7x4", DEMO, "equilibrium"),
    ("50x10", random_scenario(50, 10, seed=1, round_limit=60, turn_deadline=600,
                              registration_seconds=300), "equilibrium"),
    ("200x20", random_scenario(200, 20, seed=1, round_limit=60, turn_deadline=600,
                               registration_seconds=600), "equilibrium"),
]


def run_case(label: str, sc: Any, strategy: str) -> dict[str, Any]:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gridgame-bench-") as tmp:
        result = run_demo(DemoOptions(scenario=sc, workdir=Path(tmp), strategy=strategy,
                                      speed=20, timeout=1200, chart_path=None, quiet=True))
    (game,) = result["games"]
    tm = game["timings"]
    return {"game": label, "strategy": strategy, "rounds": game["rounds"],
            "turns": game["turns"], "end": game["end_reason"],
            "closed": bool(game.get("settlement", {}).get("closed")),
            "ms_per_turn": tm["ms_per_turn"], "bidding_s": tm["bidding_seconds"],
            "game_s": tm["game_seconds"], "whole_run_s": time.perf_counter() - start,
            "price_of_anarchy": game["price_of_anarchy"]}


def main(argv: list[str] | None = None) -> None:
    wanted = set(argv or [])  # case labels, e.g. ["7x4"]; all by default
    rows = [run_case(*case) for case in CASES if not wanted or case[0] in wanted]
    print_table(["game", "strategy", "rounds", "turns", "end", "settled", "ms/turn",
                 "bidding s", "game s", "run s (with start-up)"],
                [[r["game"], r["strategy"], r["rounds"], r["turns"], r["end"], r["closed"],
                  r["ms_per_turn"], r["bidding_s"], r["game_s"], r["whole_run_s"]]
                 for r in rows])
    write_results("e2e", {"games": rows})


if __name__ == "__main__":
    main(sys.argv[1:])
